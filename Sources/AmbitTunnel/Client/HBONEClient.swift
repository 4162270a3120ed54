import AmbitCore
import AmbitIdentity
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// The HBONE client: opens CONNECT streams through a pool of mutual-TLS HTTP/2
/// connections.
///
/// Connections are pooled per (source identity, expected destination identities,
/// destination address) — a connection proves one source identity, so two workloads never
/// share one — and per event loop, so the stream and the TCP socket it is glued to always
/// share a thread (Envoy pools per worker for the same reason). See `PoolState` for the
/// stream-placement and idle rules.
public final class HBONEClient: Sendable {
    public struct Configuration: Sendable {
        public var settings = HBONESettings()
        /// Streams per connection before another connection is opened.
        public var maximumStreamsPerConnection = 100
        /// A connection with no streams for this long is closed (seconds).
        public var idleTimeout: Double = 300
        public var keepaliveInterval: TimeAmount = .seconds(30)
        public var keepaliveTimeout: TimeAmount = .seconds(10)
        public var connectTimeout: TimeAmount = .seconds(5)
        /// TCP connected but no finished TLS handshake by then: give up on the connection.
        public var handshakeTimeout: TimeAmount = .seconds(10)
        public init() {}
    }

    struct Key: Hashable, Sendable {
        let source: SpiffeID
        let expected: Set<SpiffeID>
        let destination: SocketAddress
        let loop: ObjectIdentifier
    }

    struct Connection: Sendable {
        let channel: Channel
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer
        let peer: SpiffeID
    }

    private struct Pool: Sendable {
        var state: PoolState<Key>
        var live: [Int: EventLoopFuture<Connection>] = [:]
    }

    public let configuration: Configuration
    private let tls: TLSContextFactory
    private let connector: (any SocketConnector)?
    private let clock: any WallClock
    private let logger: Logger
    private let pool: NIOLockedValueBox<Pool>
    private let sweeper: NIOLockedValueBox<RepeatedTask?>

    public init(
        group: any EventLoopGroup, tls: TLSContextFactory, configuration: Configuration = .init(),
        connector: (any SocketConnector)? = nil,
        clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "ambit.hbone.client")
    ) {
        self.configuration = configuration
        self.tls = tls
        self.connector = connector
        self.clock = clock
        self.logger = logger
        self.pool = NIOLockedValueBox(Pool(state: PoolState(maximumStreams: configuration.maximumStreamsPerConnection)))
        self.sweeper = NIOLockedValueBox(nil)
        let period = TimeAmount.milliseconds(Int64(min(30, max(0.05, configuration.idleTimeout / 10)) * 1000))
        let task = group.any().scheduleRepeatedTask(initialDelay: period, delay: period) { [weak self] _ in
            self?.closeIdle()
        }
        sweeper.withLockedValue { $0 = task }
    }

    /// Number of open (or opening) connections; for tests, `/connections` and metrics.
    public var connectionCount: Int { pool.withLockedValue { $0.state.connectionCount } }

    /// Opens a CONNECT stream to `destination` as `source`; the server must prove one of
    /// `expected`. The returned stream is established (the server said 200) and not yet
    /// reading: glue it to a channel on `eventLoop`.
    public func open(
        from source: SpiffeID, to destination: SocketAddress, expecting expected: Set<SpiffeID>, head: ConnectHead,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<HBONEStream> {
        let key = Key(source: source, expected: expected, destination: destination, loop: ObjectIdentifier(eventLoop))
        let (id, connection, promise) = pool.withLockedValue { pool -> (Int, EventLoopFuture<Connection>, EventLoopPromise<Connection>?) in
            switch pool.state.reserve(key) {
            case .existing(let id):
                return (id, pool.live[id]!, nil)
            case .new(let id):
                let promise = eventLoop.makePromise(of: Connection.self)
                pool.live[id] = promise.futureResult
                return (id, promise.futureResult, promise)
            }
        }
        if let promise {
            connect(key: key, id: id, on: eventLoop).cascade(to: promise)
        }
        let destinationText = destination.hostPortText
        return connection.flatMap { connection -> EventLoopFuture<HBONEStream> in
            let established = eventLoop.makePromise(of: Tunnel.Preface.self)
            let created = connection.multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(
                        HBONEClientStreamHandler(head: head, destination: destinationText, established: established))
                }
            }
            // Exactly one release per reservation: through the stream's closeFuture once a
            // stream exists, here if it never came to be.
            created.whenFailure { _ in self.release(key, id: id) }
            return created.flatMap { stream in
                stream.closeFuture.whenComplete { _ in self.release(key, id: id) }
                return established.futureResult.map { preface in
                    HBONEStream(channel: stream, peer: connection.peer, preface: preface)
                }.flatMapErrorThrowing { error in
                    stream.close(promise: nil)
                    throw error
                }
            }
        }
        // A connection that failed has been removed from the pool with all its slots.
    }

    /// Closes every connection and stops the idle sweeper.
    public func shutdown() {
        sweeper.withLockedValue { $0?.cancel(); $0 = nil }
        let futures = pool.withLockedValue { pool -> [EventLoopFuture<Connection>] in
            Array(pool.live.values)
        }
        for f in futures { f.whenSuccess { $0.channel.close(promise: nil) } }
    }

    // MARK: - Pool bookkeeping

    private func release(_ key: Key, id: Int) {
        let now = clock.now()
        let (closeNow, conn) = pool.withLockedValue { pool -> (Bool, EventLoopFuture<Connection>?) in
            let close = pool.state.release(key, id: id, now: now)
            let conn = pool.live[id]
            if close { pool.live[id] = nil }
            return (close, conn)
        }
        if closeNow { conn?.whenSuccess { $0.channel.close(promise: nil) } }
    }

    private func closeIdle() {
        let now = clock.now()
        let expired = pool.withLockedValue { pool -> [EventLoopFuture<Connection>] in
            pool.state.expireIdle(now: now, idleTimeout: configuration.idleTimeout).compactMap { _, id in
                pool.live.removeValue(forKey: id)
            }
        }
        for conn in expired {
            conn.whenSuccess { connection in
                self.logger.debug("closing idle HBONE connection", metadata: ["peer": "\(connection.peer)"])
                connection.channel.close(promise: nil)
            }
        }
    }

    private func forget(_ key: Key, id: Int) {
        pool.withLockedValue { pool in
            pool.state.remove(key, id: id)
            pool.live[id] = nil
        }
    }

    private func setStreamLimit(_ key: Key, id: Int, limit: Int) {
        pool.withLockedValue { $0.state.setCapacity(key, id: id, serverLimit: limit) }
    }

    private func drain(_ key: Key, id: Int, channel: Channel) {
        let closeNow = pool.withLockedValue { pool -> Bool in
            let close = pool.state.drain(key, id: id)
            if close { pool.live[id] = nil }
            return close
        }
        if closeNow { channel.close(promise: nil) }
    }

    // MARK: - Connecting

    private func connect(key: Key, id: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Connection> {
        let tls = self.tls
        let settings = configuration.settings
        let destination = key.destination
        let contextFuture: EventLoopFuture<NIOSSLContext>
        if let cached = tls.cachedClientContext(for: key.source) {
            contextFuture = eventLoop.makeSucceededFuture(cached)
        } else {
            contextFuture = eventLoop.makeFutureWithTask { try await tls.clientContext(for: key.source) }
        }
        let handshake = eventLoop.makePromise(of: SpiffeID.self)
        let multiplexer = eventLoop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
        let keepalive = (configuration.keepaliveInterval, configuration.keepaliveTimeout)
        let handshakeTimeout = configuration.handshakeTimeout
        let connected = contextFuture.flatMap { sslContext -> EventLoopFuture<Channel> in
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(self.configuration.connectTimeout)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let (sslHandler, peer) = try tls.makeClientHandler(context: sslContext, expected: key.expected)
                        let sync = channel.pipeline.syncOperations
                        try sync.addHandler(sslHandler)
                        try sync.addHandler(HandshakeTimeoutHandler(timeout: handshakeTimeout))
                        try sync.addHandler(
                            HandshakeWaiter(peer: peer, destination: destination.hostPortText, promise: handshake))
                        try sync.addHandler(ALPNGuard(logger: self.logger))
                        let mux = try sync.configureHTTP2Pipeline(
                            mode: .client, connectionConfiguration: settings.connectionConfiguration,
                            streamConfiguration: settings.streamConfiguration
                        ) { stream in
                            // HBONE servers never open streams towards a client.
                            stream.close()
                        }
                        try sync.addHandler(KeepaliveHandler(interval: keepalive.0, timeout: keepalive.1))
                        try sync.addHandler(
                            ConnectionWatcher(
                                onGoAway: { [weak self] in self?.drain(key, id: id, channel: channel) },
                                onStreamLimit: { [weak self] limit in self?.setStreamLimit(key, id: id, limit: limit) }))
                        multiplexer.succeed(mux)
                    }
                }
            let connecting: EventLoopFuture<Channel>
            if let connector = self.connector {
                connecting = connector.connect(bootstrap, to: destination, on: eventLoop)
            } else {
                connecting = bootstrap.connect(to: destination)
            }
            return connecting
                .flatMapErrorThrowing { error in
                    throw TunnelError(
                        .connectFailed,
                        "cannot connect to the HBONE port at \(destination.hostPortText): \(error); is the destination's node daemon running, and does a firewall or NetworkPolicy allow TCP to port 15008?")
                }
        }
        let connection = connected.flatMap { channel in
            channel.closeFuture.whenComplete { _ in self.forget(key, id: id) }
            return handshake.futureResult.and(multiplexer.futureResult).map { peer, mux in
                Connection(channel: channel, multiplexer: mux, peer: peer)
            }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
        connection.whenFailure { error in
            self.forget(key, id: id)
            handshake.fail(error)
            multiplexer.fail(error)
            self.logger.info("HBONE connection failed", metadata: ["destination": "\(destination.hostPortText)", "error": "\(error)"])
        }
        return connection
    }
}

/// An established CONNECT stream, ready to be glued to a TCP channel.
public struct HBONEStream: Sendable {
    /// The HTTP/2 stream channel.
    public let channel: Channel
    /// The server identity TLS verified.
    public let peer: SpiffeID
    let preface: Tunnel.Preface

    /// Glues the stream to `tcp` (same event loop, created with autoRead off). The future
    /// completes with the byte counts when both are closed.
    public func glue(to tcp: Channel) -> EventLoopFuture<TunnelStats> {
        let stream = channel
        let preface = self.preface
        let peer = self.peer
        return stream.eventLoop.flatSubmit {
            let counter = ByteCounter(firstName: "tunnel", secondName: "source")
            do {
                stream.pipeline.syncOperations.removeHandler(
                    try stream.pipeline.syncOperations.handler(type: HBONEClientStreamHandler.self)
                ).whenFailure { _ in }
                try Tunnel.join(stream: stream, tcp: tcp, preface: preface, counter: counter)
            } catch {
                stream.close(promise: nil)
                tcp.close(promise: nil)
                return stream.eventLoop.makeFailedFuture(error)
            }
            return stream.closeFuture.and(tcp.closeFuture).assumeIsolated().map { _ in
                TunnelStats(
                    peer: peer, bytesFromSource: counter.fromSecond, bytesToSource: counter.fromFirst,
                    failure: counter.closeReason)
            }.nonisolated()
        }
    }
}

extension HBONEStream {
    /// Serves the stream in this process instead of gluing it to a socket: `initialize`
    /// adds handlers that see it as a byte channel, exactly as `LocalStream` describes for
    /// the server side (a waypoint speaks HTTP to its upstream this way). Call on the
    /// stream's event loop.
    public func terminate(_ initialize: (Channel) throws -> Void) throws {
        let stream = channel
        let sync = stream.pipeline.syncOperations
        try sync.removeHandler(try sync.handler(type: HBONEClientStreamHandler.self)).whenFailure { _ in }
        try Tunnel.terminate(stream: stream, preface: preface, initialize: initialize)
    }
}

/// Bytes moved by one client-side tunnel.
public struct TunnelStats: Sendable {
    /// The server identity TLS verified for this tunnel.
    public let peer: SpiffeID
    public let bytesFromSource: Int
    public let bytesToSource: Int
    public let failure: String?
}

/// Completes `promise` with the verified server identity when the TLS handshake is done,
/// or fails it with the verification reason.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let peer: VerifiedPeer
    private let destination: String
    private var promise: EventLoopPromise<SpiffeID>?

    init(peer: VerifiedPeer, destination: String, promise: EventLoopPromise<SpiffeID>) {
        self.peer = peer
        self.destination = destination
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            if let identity = peer.identity {
                promise?.succeed(identity)
            } else {
                promise?.fail(TunnelError(.tlsFailed, "TLS with \(destination) completed without a verified identity"))
            }
            promise = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason = peer.failure?.message ?? "\(error)"
        promise?.fail(TunnelError(.tlsFailed, "TLS with the HBONE server at \(destination) failed: \(reason)"))
        promise = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = peer.failure?.message
            ?? "the server closed the connection during the handshake; it may not trust our certificate (different CA or trust domain?)"
        promise?.fail(TunnelError(.tlsFailed, "TLS with the HBONE server at \(destination) failed: \(reason)"))
        promise = nil
        context.fireChannelInactive()
    }
}

/// Tells the pool what the server says about the connection: GOAWAY (no new streams
/// here) and SETTINGS_MAX_CONCURRENT_STREAMS (fewer than 100 streams fit).
final class ConnectionWatcher: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private let onGoAway: () -> Void
    private let onStreamLimit: (Int) -> Void

    init(onGoAway: @escaping () -> Void, onStreamLimit: @escaping (Int) -> Void) {
        self.onGoAway = onGoAway
        self.onStreamLimit = onStreamLimit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data).payload {
        case .goAway:
            onGoAway()
        case .settings(.settings(let settings)):
            for setting in settings where setting.parameter == .maxConcurrentStreams { onStreamLimit(setting.value) }
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A connection-level HTTP/2 error ends this connection; the pool hears of it
        // through closeFuture.
        context.close(promise: nil)
    }
}
