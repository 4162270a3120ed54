import AmbitRedirect
import NIOCore

/// An in-process test server listening inside a pod: the pod's application.
public final class PodServer: Sendable, CustomStringConvertible {
    public let pod: Topology.Pod
    public let port: Int
    /// The server itself (counters, `resumeReading`).
    public let server: TestTCPServer

    init(pod: Topology.Pod, port: Int, server: TestTCPServer) {
        self.pod = pod
        self.port = port
        self.server = server
    }

    /// The pod's address, where clients connect.
    public var ip: String { pod.ip }
    public var connectionsAccepted: Int { server.connectionsAccepted }
    public var bytesReceived: Int { server.bytesReceived }
    /// For `.sink`: byte count and SHA-256 of each finished connection.
    public var sinkResults: [TestTCPServer.SinkResult] { server.sinkResults }

    public func resumeReading() { server.resumeReading() }
    public func close() async { await server.close() }

    public var description: String { "\(pod.ip):\(port) in \(pod)" }
}

extension Topology.Pod {
    /// Serves `behaviour` on `0.0.0.0:port` inside the pod, in this process.
    ///
    /// The listening socket is made inside the pod's namespace with mark 0, the way the
    /// pod's own application would make it (the daemon's sockets carry 0x539, which the
    /// in-pod rules let through untouched), then handed to SwiftNIO. Teardown closes it.
    public func serve(_ behaviour: TestTCPServer.Behaviour, port: Int, paused: Bool = false) async throws -> PodServer {
        let namespace = try NetworkNamespace(path: netnsPath)
        let listener = try await context.executor.run(in: namespace) {
            try NamespaceSockets.tcpListener(port: port, mark: 0)
        }
        let server = try await TestTCPServer.serve(behaviour, boundSocket: listener, group: context.group, paused: paused)
        do {
            try context.register(server)
        } catch {
            await server.close()
            throw error
        }
        return PodServer(pod: self, port: port, server: server)
    }

    /// Connects from inside the pod to `host:port`, like the pod's application would (mark
    /// 0, so the pod's nftables rules apply). Use the socket inside `BlockingSocket.run`.
    public func connect(
        to host: String, port: Int, timeoutSeconds: Double = 5, receiveTimeoutSeconds: Int = 15
    ) async throws -> BlockingSocket {
        let address = try SocketAddress(ipAddress: host, port: port)
        let namespace = try NetworkNamespace(path: netnsPath)
        let socket = try await context.executor.run(in: namespace) {
            try NamespaceSockets.tcpSocket(for: address, mark: 0)
        }
        // The connect itself may happen outside the namespace: a socket keeps the
        // namespace it was created in.
        let connected = try await NonBlockingConnect.connect(
            socket, to: address, timeout: .milliseconds(Int64(timeoutSeconds * 1000)), on: context.group.next()
        ).get()
        return try BlockingSocket(adopting: connected, receiveTimeoutSeconds: receiveTimeoutSeconds)
    }

    /// Connects to `host:port`, sends `text`, shuts the write side and returns everything
    /// the server sends back until it closes: one call per echo/banner/sink exchange.
    public func roundTrip(to host: String, port: Int, sending text: String) async throws -> String {
        let socket = try await connect(to: host, port: port)
        let reply = try await BlockingSocket.run {
            try socket.send(text)
            socket.shutdownWrite()
            return try socket.readToEnd()
        }
        return String(decoding: reply, as: UTF8.self)
    }
}
