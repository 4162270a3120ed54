import AmbitTunnel
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Builds the handlers that serve one downstream byte channel (a terminated HBONE stream,
/// or a plain TCP connection): HTTP/1.1, HTTP/2 with prior knowledge, or TCP relayed to an
/// endpoint. Each is added at the end of the pipeline, behind whatever detected it.
enum DownstreamPipeline {
    /// How long a stream may stay silent before it is taken for a server-first protocol.
    static let detectionTimeout = TimeAmount.milliseconds(500)

    static func install(_ tunnelProtocol: TunnelProtocol, session: DownstreamSession, on channel: Channel) throws {
        switch tunnelProtocol {
        case .http2:
            try installHTTP2(session: session, on: channel)
        case .tcp:
            try installTCP(session: session, on: channel)
        case .http, .detect:
            let detector = ProtocolDetector(declaredHTTP: tunnelProtocol == .http, timeout: detectionTimeout) { detected, channel in
                switch detected {
                case .http1: try installHTTP1(session: session, on: channel)
                case .http2: try installHTTP2(session: session, on: channel)
                case .tcp: try installTCP(session: session, on: channel)
                }
            }
            try channel.pipeline.syncOperations.addHandler(detector)
        }
    }

    static func installHTTP1(session: DownstreamSession, on channel: Channel) throws {
        // NIO's server pipeline, spelled out so the decoder forwards what follows an
        // upgrade request (a WebSocket's first frames) instead of dropping it.
        try channel.pipeline.syncOperations.addHandlers([
            HTTPResponseEncoder(),
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
            HTTPServerPipelineHandler(),
            HTTPServerProtocolErrorHandler(),
            DownstreamHTTPHandler(session: session, isHTTP2: false),
        ])
    }

    static func installHTTP2(session: DownstreamSession, on channel: Channel) throws {
        let loop = channel.eventLoop
        let bound = NIOLoopBound(session, eventLoop: loop)
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: InnerHTTP2.connection, streamConfiguration: InnerHTTP2.stream
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ServerCodec(), DownstreamHTTPHandler(session: bound.value, isHTTP2: true),
                ])
            }
        }
    }

    /// Opaque bytes: glued to one endpoint of the destination, chosen like a request's.
    static func installTCP(session: DownstreamSession, on channel: Channel) throws {
        let relay = TCPStreamRelay(session: session)
        try channel.pipeline.syncOperations.addHandler(relay)
    }
}

/// Carries a non-HTTP stream to an endpoint: holds what arrives while connecting (reading
/// stops meanwhile), then hands both channels to `TCPRelay`, which owns backpressure and
/// half-close from there.
final class TCPStreamRelay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private let session: DownstreamSession
    private var started = false

    init(session: DownstreamSession) {
        self.session = session
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let channel = context.channel
        // What arrives before the upstream exists is held, then replayed by the relay.
        channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        let hold = InputHoldHandler()
        do {
            try context.pipeline.syncOperations.addHandler(hold, position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        let session = self.session
        let backend = session.destination.flatMap { session.loop.config.backend(for: $0) }
        // TCP streams are balanced like requests: one lease for the stream's life.
        let destination = backend.map { session.loop.destination($0, plain: session.plain, metrics: session.telemetry.upstream) }
        guard let backend, let destination, let (lease, endpoint) = destination.pick(hash: nil) else {
            context.close(promise: nil)
            return
        }
        let loop = session.loop
        let started = NIODeadline.now()
        session.pool.connector.connect(to: endpoint, on: channel.eventLoop) { upstream in
            try upstream.pipeline.syncOperations.addHandler(InputHoldHandler())
        }.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let upstream):
                TCPRelay.join(channel, upstream).assumeIsolated().whenComplete { outcome in
                    destination.balancer.release(lease)
                    let stats = try? outcome.get()
                    Self.log(session: session, backend: backend, endpoint: endpoint, started: started, stats: stats, flags: stats?.failure == nil ? ResponseFlag.none : ResponseFlag.upstreamConnectionTermination)
                }
            case .failure:
                destination.balancer.release(lease)
                destination.record(.connectFailure, lease: lease, on: loop)
                Self.log(session: session, backend: backend, endpoint: endpoint, started: started, stats: nil, flags: ResponseFlag.upstreamConnectionFailure)
                channel.close(promise: nil)
            }
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    private static func log(
        session: DownstreamSession, backend: Backend, endpoint: UpstreamEndpoint, started: NIODeadline, stats: TCPRelay.Stats?,
        flags: String
    ) {
        guard let accessLog = session.telemetry.accessLog else { return }
        var record = AccessLogRecordBuilder.tcp(
            session: session, backend: backend, endpoint: endpoint, durationNanoseconds: (NIODeadline.now() - started).nanoseconds,
            received: stats?.bytesFromFirst ?? 0, sent: stats?.bytesFromSecond ?? 0, flags: flags)
        record.append("reason", stats?.failure)
        accessLog.log(record)
    }
}
