import AmbitRedirect
import Foundation
import NIOCore

/// What tests read from a running Ambit process (node or waypoint): its JSON access log on
/// standard output, its HTTP endpoints, and how to stop it.
public protocol MeshProcess: Sendable {
    var process: TestProcess { get }
    /// `GET path` from the process's HTTP server on `port` (15020 metrics, 15021
    /// readiness, 15000 admin), from inside its namespace.
    func get(_ path: String, port: Int) async throws -> String
}

extension MeshProcess {
    /// Access-log lines so far (JSON objects, one per connection or request).
    public var accessLog: [String] {
        process.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("{") }
    }

    /// Lines of the access log containing every one of `fragments`.
    public func accessLog(containing fragments: String...) -> [String] {
        accessLog.filter { line in fragments.allSatisfy { line.contains($0) } }
    }

    public func metrics() async throws -> String { try await get("/metrics", port: 15020) }

    /// Stops the process with SIGTERM and waits for it to exit.
    @discardableResult
    public func stop() async -> ExitStatus { await process.terminate(grace: 10) }
}

/// One running `ambit node`, seen from a test: its access log and its HTTP endpoints.
public final class NodeDaemonProcess: MeshProcess {
    public let node: Topology.Node
    public let process: TestProcess
    let context: TopologyContext

    init(node: Topology.Node, process: TestProcess, context: TopologyContext) {
        self.node = node
        self.process = process
        self.context = context
    }

    public func get(_ path: String, port: Int) async throws -> String {
        try await MeshHTTPProbe.get(path, port: port, netnsPath: node.netnsPath, context: context)
    }
}

/// `GET path` from 127.0.0.1:`port` inside a network namespace: how a test reads a
/// daemon's metrics, readiness and admin endpoints (node daemon or waypoint alike).
enum MeshHTTPProbe {
    static func get(_ path: String, port: Int, netnsPath: String, context: TopologyContext) async throws -> String {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        let namespace = try NetworkNamespace(path: netnsPath)
        let fd = try await context.executor.run(in: namespace) { try NamespaceSockets.tcpSocket(for: address, mark: 0) }
        let connected = try await NonBlockingConnect.connect(fd, to: address, timeout: .seconds(2), on: context.group.next()).get()
        let socket = try BlockingSocket(adopting: connected, receiveTimeoutSeconds: 5)
        let response = try await BlockingSocket.run {
            try socket.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            return try socket.readToEnd()
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("malformed HTTP response: \(text)") }
        guard text.hasPrefix("HTTP/1.1 200") else { throw TestFailure("GET \(path): \(text.prefix(200))") }
        return String(text[split.upperBound...])
    }
}
