import AmbitCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// The small HTTP/1.1 server behind `/metrics`, readiness and the admin endpoints.
///
/// It serves exact (method, path) routes from `AdminRoutes`: an unknown path gets 404 with
/// the known paths, a known path with the wrong method 405 with `Allow`, a body over the
/// limit 413, and a request NIOHTTP1 cannot parse 400 and a closed connection. Connections
/// are kept alive unless the client asks otherwise; idle ones are closed after a while.
/// One bad client only ever loses its own connection.
///
/// ```swift
/// let routes = AdminRoutes()
/// routes.registerMetrics(registry)
/// routes.registerReadiness { certificates.ready ? .ready : .notReady(reason: "no certificate yet") }
/// let admin = try await AdminHTTPServer.bind(host: "127.0.0.1", port: 15020, group: group, routes: routes)
/// ```
public final class AdminHTTPServer: Sendable {
    public struct Configuration: Sendable {
        /// Larger request bodies are answered with 413. Default 1 MiB.
        public var maxBodyBytes = 1 << 20
        /// A connection that sends nothing for this long is closed. Prometheus keeps its
        /// scrape connection open between scrapes, so this should exceed a scrape interval.
        public var idleTimeout: TimeAmount = .seconds(120)
        public init() {}
    }

    private let channel: Channel
    private let connections: ConnectionSet
    private let logger: Logger

    /// The address actually bound (useful with port 0); kept after close.
    public let localAddress: SocketAddress
    /// The port actually bound.
    public var port: Int { localAddress.port ?? 0 }

    private init(channel: Channel, connections: ConnectionSet, logger: Logger) {
        self.channel = channel
        self.connections = connections
        self.logger = logger
        self.localAddress = channel.localAddress!
    }

    // MARK: - Binding

    /// Binds `host:port` (port 0 picks a free port) and starts serving `routes`.
    public static func bind(
        host: String, port: Int, group: any EventLoopGroup, routes: AdminRoutes,
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "ambit.admin")
    ) async throws -> AdminHTTPServer {
        let connections = ConnectionSet()
        do {
            let channel = try await bootstrap(
                group: group, routes: routes, configuration: configuration, connections: connections, logger: logger
            )
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port).get()
            return started(channel: channel, connections: connections, logger: logger)
        } catch {
            throw TelemetryError(
                .bindFailed,
                "cannot bind the admin server on \(host):\(port): \(error); "
                    + "is another process using the port, or is the address not on this host?"
            )
        }
    }

    /// Serves on a socket that is already bound (listening or not), for sockets the node
    /// daemon created inside another network namespace. The server takes ownership of the
    /// descriptor and closes it in `close()`.
    public static func bind(
        socket: NIOBSDSocket.Handle, group: any EventLoopGroup, routes: AdminRoutes,
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "ambit.admin")
    ) async throws -> AdminHTTPServer {
        let connections = ConnectionSet()
        do {
            let channel = try await bootstrap(
                group: group, routes: routes, configuration: configuration, connections: connections, logger: logger
            )
            .withBoundSocket(socket).get()
            return started(channel: channel, connections: connections, logger: logger)
        } catch {
            throw TelemetryError(
                .bindFailed,
                "cannot serve the admin server on socket \(socket): \(error); pass a bound, open TCP socket that nothing else uses"
            )
        }
    }

    private static func started(channel: Channel, connections: ConnectionSet, logger: Logger) -> AdminHTTPServer {
        let server = AdminHTTPServer(channel: channel, connections: connections, logger: logger)
        logger.info("admin server listening", metadata: ["address": "\(server.localAddress.hostPortText)"])
        return server
    }

    private static func bootstrap(
        group: any EventLoopGroup, routes: AdminRoutes, configuration: Configuration, connections: ConnectionSet,
        logger: Logger
    ) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.insert(channel) else {
                    // Accepted while the server was closing.
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(
                        AdminHTTPHandler(routes: routes, maxBodyBytes: configuration.maxBodyBytes, logger: logger))
                }
            }
    }

    // MARK: - Closing

    /// Stops accepting, then closes every open connection (a handler still running finds
    /// its connection gone and its response is dropped). Safe to call more than once.
    public func close() async {
        guard let open = connections.closeAll() else { return }
        try? await channel.close()
        for connection in open { try? await connection.close() }
        logger.info("admin server closed", metadata: ["address": "\(localAddress.hostPortText)"])
    }
}

/// The open connections, so `close()` can end them; each removes itself when it closes.
private final class ConnectionSet: Sendable {
    private let state = NIOLockedValueBox((closed: false, channels: [ObjectIdentifier: any Channel]()))

    /// Adds `channel` unless the server is closing; false means close it right away.
    func insert(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let added = state.withLockedValue { state -> Bool in
            guard !state.closed else { return false }
            state.channels[id] = channel
            return true
        }
        if added {
            channel.closeFuture.whenComplete { [self] _ in
                state.withLockedValue { _ = $0.channels.removeValue(forKey: id) }
            }
        }
        return added
    }

    /// Marks the set closed and hands back what was open; nil when it was already closed.
    func closeAll() -> [any Channel]? {
        state.withLockedValue { state in
            guard !state.closed else { return nil }
            state.closed = true
            return Array(state.channels.values)
        }
    }
}

extension SocketAddress {
    /// `127.0.0.1:15020` / `[::1]:15020` rather than NIO's `[IPv4]127.0.0.1/127.0.0.1:15020`.
    fileprivate var hostPortText: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return HostPort(host: ip, port: port).description
    }
}
