import AmbitCore
import AmbitIdentity
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// The HBONE server: the port-15008 side of the tunnel.
///
/// It is bound when built (a port clash fails here, not at the first connection) and
/// presents one identity's certificate. Every CONNECT stream goes to `decide` with the
/// verified peer identity; the server answers 200 and glues, or 400/401/503.
///
/// One bad peer never hurts the others: a failed handshake, an HTTP/1.1 client or garbage
/// after the HTTP/2 preface closes that connection only, and a malformed request closes
/// that stream only.
public final class HBONEServer: Sendable {
    public struct Configuration: Sendable {
        public var address: SocketAddress
        /// The identity whose certificate this listener presents.
        public var identity: SpiffeID
        public var settings = HBONESettings()
        /// A connection that has not finished its TLS handshake by then is closed.
        public var handshakeTimeout: TimeAmount = .seconds(10)
        /// A socket already bound and listening (made in a pod's network namespace); when
        /// set, `address` is only for messages.
        public var boundSocket: NIOBSDSocket.Handle?

        public init(address: SocketAddress, identity: SpiffeID) {
            self.address = address
            self.identity = identity
        }
    }

    public typealias Decide = @Sendable (ConnectRequest) async -> ConnectDecision
    /// A decision that needs no waiting (the node's: a lookup in its snapshot). It runs on
    /// the stream's event loop, saving the hop to a task and back on every connection.
    public typealias DecideNow = @Sendable (ConnectRequest) -> ConnectDecision
    /// Called on the stream's event loop when a tunnel is established, with the stream
    /// channel: closing it ends the tunnel (how a policy change cuts a connection).
    public typealias Established = @Sendable (ConnectRequest, Channel) -> Void

    private let channel: Channel
    /// Open HBONE connections, so a draining server can tell each to stop opening streams.
    private let connections: ConnectionRegistry
    public let configuration: Configuration

    private init(channel: Channel, configuration: Configuration, connections: ConnectionRegistry) {
        self.channel = channel
        self.connections = connections
        self.configuration = configuration
        self.localAddress = channel.localAddress!
    }

    /// The address actually bound (useful with port 0); kept after close.
    public let localAddress: SocketAddress

    public static func bind(
        _ configuration: Configuration,
        group: any EventLoopGroup,
        tls: TLSContextFactory,
        dialer: any Dialer = TCPDialer(),
        logger: Logger = Logger(label: "ambit.hbone.server"),
        onRecord: (@Sendable (StreamRecord) -> Void)? = nil,
        onEstablished: Established? = nil,
        decideNow: DecideNow? = nil,
        decide: @escaping Decide
    ) async throws -> HBONEServer {
        // Fetch the certificate now: a server that cannot prove its identity should fail
        // to start, not fail every handshake.
        _ = try await tls.serverContext(for: configuration.identity)
        let identity = configuration.identity
        let settings = configuration.settings
        let handshakeTimeout = configuration.handshakeTimeout
        let connections = ConnectionRegistry()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                let contextFuture: EventLoopFuture<NIOSSLContext>
                if let cached = tls.cachedServerContext(for: identity) {
                    contextFuture = channel.eventLoop.makeSucceededFuture(cached)
                } else {
                    contextFuture = channel.eventLoop.makeFutureWithTask { try await tls.serverContext(for: identity) }
                }
                return contextFuture.flatMapThrowing { sslContext in
                    try configureConnection(
                        channel, sslContext: sslContext, tls: tls, settings: settings, handshakeTimeout: handshakeTimeout,
                        dialer: dialer, logger: logger, onRecord: onRecord, onEstablished: onEstablished, decideNow: decideNow,
                        decide: decide)
                }.flatMapErrorThrowing { error in
                    logger.error(
                        "cannot serve HBONE connection: no certificate for \(identity)", metadata: ["error": "\(error)"])
                    throw error
                }
            }
        let channel: Channel
        if let socket = configuration.boundSocket {
            channel = try await bootstrap.withBoundSocket(socket).get()
        } else {
            channel = try await bootstrap.bind(to: configuration.address).get()
        }
        logger.info("HBONE server listening", metadata: ["address": "\(channel.localAddress!.hostPortText)", "identity": "\(identity)"])
        return HBONEServer(channel: channel, configuration: configuration, connections: connections)
    }

    private static func configureConnection(
        _ channel: Channel, sslContext: NIOSSLContext, tls: TLSContextFactory, settings: HBONESettings,
        handshakeTimeout: TimeAmount, dialer: any Dialer, logger: Logger,
        onRecord: (@Sendable (StreamRecord) -> Void)?, onEstablished: Established?, decideNow: DecideNow?,
        decide: @escaping Decide
    ) throws {
        let (sslHandler, peer) = tls.makeServerHandler(context: sslContext)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(sslHandler)
        try sync.addHandler(HandshakeTimeoutHandler(timeout: handshakeTimeout))
        try sync.addHandler(ALPNGuard(logger: logger))
        let remote = channel.remoteAddress
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: settings.connectionConfiguration,
            streamConfiguration: settings.streamConfiguration
        ) { stream in
            // Streams exist only after the handshake, so the peer is verified by now.
            guard let identity = peer.identity else {
                return stream.close()
            }
            return stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    HBONEServerStreamHandler(
                        peer: identity, peerAddress: remote, decide: decide, dialer: dialer, logger: logger,
                        onRecord: onRecord, onEstablished: onEstablished, decideNow: decideNow))
            }
        }
        try sync.addHandler(ConnectionErrorHandler(peer: peer, logger: logger))
    }

    /// Stops accepting. Open tunnels are not touched; the caller drains them.
    ///
    /// Open connections are sent GOAWAY: their streams carry on, but clients open new
    /// ones elsewhere, so a drain really empties this server.
    public func close() async throws {
        defer { connections.goAwayAll() }
        try await channel.close()
    }
}

/// The last handler of an HBONE connection: anything that reaches it (a TLS failure, an
/// HTTP/2 connection error after GOAWAY) ends this connection and nothing else. It logs
/// the verification reason when there is one, since BoringSSL's own error is generic.
final class ConnectionErrorHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    private let peer: VerifiedPeer
    private let logger: Logger
    private var logged = false

    init(peer: VerifiedPeer, logger: Logger) {
        self.peer = peer
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !logged {
            logged = true
            var metadata: Logger.Metadata = ["remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"]
            if let failure = peer.failure { metadata["verification"] = "\(failure.message)" }
            logger.info("closing HBONE connection", metadata: metadata)
        }
        context.close(promise: nil)
    }
}

/// The server's open connections; each leaves when it closes.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])

    func add(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLockedValue { $0[id] = channel }
        channel.closeFuture.whenComplete { [channels] _ in channels.withLockedValue { _ = $0.removeValue(forKey: id) } }
    }

    /// GOAWAY with the highest stream ID: streams already open finish, new ones are refused.
    func goAwayAll() {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
            channel.writeAndFlush(frame, promise: nil)
        }
    }
}
