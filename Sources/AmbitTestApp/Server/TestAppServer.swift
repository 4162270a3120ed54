// A running test app: the HTTP listener (HTTP/1.1 + h2c + WebSocket on one port) and,
// when asked, the gRPC Echo listener. Both are bound by `start`, so a port clash fails
// start-up; `waitUntilClosed` only serves.
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix

public final class TestAppServer: Sendable {
    public let configuration: ServeConfiguration
    public let stats: TestAppStats
    /// The bound HTTP address (the real port when 0 was asked for).
    public let httpAddress: HostPort
    /// The bound gRPC address, when --grpc-listen was given.
    public let grpcAddress: HostPort?

    private let channel: Channel
    private let group: MultiThreadedEventLoopGroup
    private let ownsGroup: Bool
    private let grpcServer: GRPCServer<HTTP2ServerTransport.Posix>?
    private let grpcTask: Task<Void, Error>?

    private init(
        configuration: ServeConfiguration, stats: TestAppStats, httpAddress: HostPort, grpcAddress: HostPort?, channel: Channel,
        group: MultiThreadedEventLoopGroup, ownsGroup: Bool, grpcServer: GRPCServer<HTTP2ServerTransport.Posix>?, grpcTask: Task<Void, Error>?
    ) {
        self.configuration = configuration
        self.stats = stats
        self.httpAddress = httpAddress
        self.grpcAddress = grpcAddress
        self.channel = channel
        self.group = group
        self.ownsGroup = ownsGroup
        self.grpcServer = grpcServer
        self.grpcTask = grpcTask
    }

    /// Binds and starts serving. Without a `group`, the server makes its own with one
    /// thread (the benchmark backend must be one event loop) and stops it in `shutdown`.
    /// `random` feeds `--fail-mode random`.
    public static func start(
        _ configuration: ServeConfiguration, group: MultiThreadedEventLoopGroup? = nil,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) async throws -> TestAppServer {
        let ownsGroup = group == nil
        let group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let stats = TestAppStats()
        let loop = group.next()
        let app = TestAppContext(configuration: configuration, stats: stats, random: random, eventLoop: loop)
        let channel: Channel
        do {
            // Every connection lands on the same loop as the --call pool, which is confined to it.
            channel = try await ServerBootstrap(group: loop, childGroup: loop)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(ProtocolSwitchHandler(app: app))
                    }
                }
                .bind(host: configuration.listen.host, port: configuration.listen.port)
                .get()
        } catch {
            if ownsGroup { try? await group.shutdownGracefully() }
            throw TestAppError("cannot listen on \(configuration.listen): \(error) (is another process using the port?)")
        }
        let httpAddress = HostPort(host: configuration.listen.host, port: channel.localAddress?.port ?? configuration.listen.port)

        var grpcServer: GRPCServer<HTTP2ServerTransport.Posix>?
        var grpcTask: Task<Void, Error>?
        var grpcAddress: HostPort?
        if let listen = configuration.grpcListen {
            let server = GRPCServer(
                transport: .http2NIOPosix(
                    address: listen.host.contains(":") ? .ipv6(host: listen.host, port: listen.port) : .ipv4(host: listen.host, port: listen.port),
                    transportSecurity: .plaintext, eventLoopGroup: group),
                services: [EchoService(name: configuration.name, version: configuration.version, stats: stats)])
            let task = Task { try await server.serve() }
            do {
                guard let bound = try await server.listeningAddress else { throw TestAppError("no address") }
                let port = bound.ipv4?.port ?? bound.ipv6?.port ?? listen.port
                grpcAddress = HostPort(host: listen.host, port: port)
            } catch {
                task.cancel()
                try? await channel.close()
                if ownsGroup { try? await group.shutdownGracefully() }
                throw TestAppError("cannot listen for gRPC on \(listen): \(error) (is another process using the port?)")
            }
            grpcServer = server
            grpcTask = task
        }
        return TestAppServer(
            configuration: configuration, stats: stats, httpAddress: httpAddress, grpcAddress: grpcAddress, channel: channel,
            group: group, ownsGroup: ownsGroup, grpcServer: grpcServer, grpcTask: grpcTask)
    }

    /// Returns when the HTTP listener closes (after `shutdown`).
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
        try await grpcTask?.value
    }

    /// Stops listening and closes the gRPC server; open HTTP connections are closed with
    /// the event loop (when the server owns it).
    public func shutdown() async {
        try? await channel.close()
        grpcServer?.beginGracefulShutdown()
        _ = try? await grpcTask?.value
        if ownsGroup { try? await group.shutdownGracefully() }
    }
}
