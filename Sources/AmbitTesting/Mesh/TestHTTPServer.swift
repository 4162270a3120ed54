import AmbitRedirect
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 application for waypoint tests: answers every request with 200 and a
/// body naming itself, the method, the path and how many request-body bytes it read, and
/// echoes `x-request-id` back. Keep-alive, chunked bodies and pipelining come from NIO.
public final class TestHTTPServer: Sendable {
    public let name: String
    private let channel: Channel
    private let counters: NIOLockedValueBox<(requests: Int, connections: Int)>

    private init(name: String, channel: Channel, counters: NIOLockedValueBox<(requests: Int, connections: Int)>) {
        self.name = name
        self.channel = channel
        self.counters = counters
    }

    public var port: Int { channel.localAddress!.port! }
    public var requestsServed: Int { counters.withLockedValue { $0.requests } }
    public var connectionsAccepted: Int { counters.withLockedValue { $0.connections } }

    /// On 127.0.0.1, an ephemeral port.
    public static func start(name: String, group: any EventLoopGroup) async throws -> TestHTTPServer {
        try await launch(name: name, group: group) { $0.bind(host: "127.0.0.1", port: 0) }
    }

    /// On a socket already bound and listening (one made inside a pod's namespace).
    public static func serve(name: String, boundSocket: NIOBSDSocket.Handle, group: any EventLoopGroup) async throws -> TestHTTPServer {
        try await launch(name: name, group: group) { $0.withBoundSocket(boundSocket) }
    }

    private static func launch(
        name: String, group: any EventLoopGroup, bind: (ServerBootstrap) -> EventLoopFuture<Channel>
    ) async throws -> TestHTTPServer {
        let counters = NIOLockedValueBox((requests: 0, connections: 0))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                counters.withLockedValue { $0.connections += 1 }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(Responder(name: name, counters: counters))
                }
            }
        return TestHTTPServer(name: name, channel: try await bind(bootstrap).get(), counters: counters)
    }

    public func close() async {
        try? await channel.close()
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let name: String
        let counters: NIOLockedValueBox<(requests: Int, connections: Int)>
        var head: HTTPRequestHead?
        var bodyBytes = 0

        init(name: String, counters: NIOLockedValueBox<(requests: Int, connections: Int)>) {
            self.name = name
            self.counters = counters
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                bodyBytes = 0
            case .body(let b):
                bodyBytes += b.readableBytes
            case .end:
                guard let head else { return }
                counters.withLockedValue { $0.requests += 1 }
                let text = "\(name) \(head.method.rawValue) \(head.uri) \(bodyBytes)\n"
                var headers = HTTPHeaders([("content-length", String(text.utf8.count)), ("x-served-by", name)])
                if let id = head.headers.first(name: "x-request-id") { headers.add(name: "x-seen-request-id", value: id) }
                if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                let keepAlive = head.isKeepAlive
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
                self.head = nil
            }
        }
    }
}

extension Topology.Pod {
    /// Serves `TestHTTPServer` on `0.0.0.0:port` inside the pod, in this process (close it
    /// at the end of the test).
    public func serveHTTP(port: Int, name: String? = nil) async throws -> TestHTTPServer {
        let namespace = try NetworkNamespace(path: netnsPath)
        let listener = try await context.executor.run(in: namespace) {
            try NamespaceSockets.tcpListener(port: port, mark: 0)
        }
        return try await TestHTTPServer.serve(name: name ?? self.name, boundSocket: listener, group: context.group)
    }
}
