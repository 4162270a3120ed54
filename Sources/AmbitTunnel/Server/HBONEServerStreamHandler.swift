import AmbitCore
import AmbitIdentity
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves one CONNECT stream: performs what `ServerStreamStateMachine` decides.
final class HBONEServerStreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var machine: ServerStreamStateMachine
    private let decide: @Sendable (ConnectRequest) async -> ConnectDecision
    private let dialer: any Dialer
    private let logger: Logger
    private let onRecord: (@Sendable (StreamRecord) -> Void)?
    private let onEstablished: HBONEServer.Established?
    private let decideNow: HBONEServer.DecideNow?
    private let startedAt: NIODeadline
    private var request: ConnectRequest?
    private var context: ChannelHandlerContext?
    private var counter: ByteCounter?
    private var recorded = false

    init(
        peer: SpiffeID, peerAddress: SocketAddress?, decide: @escaping @Sendable (ConnectRequest) async -> ConnectDecision,
        dialer: any Dialer, logger: Logger, onRecord: (@Sendable (StreamRecord) -> Void)?,
        onEstablished: HBONEServer.Established? = nil, decideNow: HBONEServer.DecideNow? = nil
    ) {
        self.machine = ServerStreamStateMachine(peer: peer, peerAddress: peerAddress)
        self.decide = decide
        self.dialer = dialer
        self.logger = logger
        self.onRecord = onRecord
        self.onEstablished = onEstablished
        self.decideNow = decideNow
        self.startedAt = .now()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let headers):
            perform(machine.headersReceived(headers.headers, endStream: headers.endStream), context: context)
        case .data(let frame):
            if case .byteBuffer(let bytes) = frame.data {
                perform(machine.dataReceived(bytes, endStream: frame.endStream), context: context)
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.streamClosed(), context: context)
        context.fireChannelInactive()
    }

    // MARK: - Actions

    private func perform(_ action: ServerStreamStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .decide(let box):
            request = box.request
            // Hold further DATA in the stream (and so in the peer's window) while we decide.
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            if let decideNow {
                perform(machine.decided(decideNow(box.request)), context: context)
                return
            }
            let loop = context.eventLoop
            let decide = self.decide
            let request = box.request
            loop.makeFutureWithTask { await decide(request) }.assumeIsolated().whenSuccess { decision in
                guard let context = self.context else { return }
                self.perform(self.machine.decided(decision), context: context)
            }
        case .dial(let address):
            dialer.dial(address, on: context.eventLoop).assumeIsolated().whenComplete { result in
                guard let context = self.context else {
                    if case .success(let tcp) = result { tcp.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let tcp):
                    self.upstream = tcp
                    self.perform(self.machine.dialSucceeded(), context: context)
                case .failure(let error):
                    self.perform(self.machine.dialFailed(error, address: address), context: context)
                }
            }
        case .establish(let box):
            establish(preface: box.preface, context: context)
        case .terminate(let box, let local):
            terminate(preface: box.preface, local: local.local, context: context)
        case .respond(let status, let reason):
            respond(status: status, reason: reason, context: context)
        case .reset(let reason):
            logger.info("resetting HBONE stream", metadata: ["reason": "\(reason)"])
            record(.failed(reason))
            context.close(promise: nil)
        case .abandon:
            upstream?.close(promise: nil)
            record(.failed("the stream closed before the tunnel was established"))
        }
    }

    private var upstream: Channel?

    private func establish(preface: Tunnel.Preface, context: ChannelHandlerContext) {
        guard let tcp = upstream else { return }
        let response = HPACKHeaders([(":status", HBONEStatus.established)])
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response))), promise: nil)
        let counter = ByteCounter(firstName: "tunnel", secondName: "destination")
        self.counter = counter
        let channel = context.channel
        do {
            // From here on frames go straight to the byte codec and the glue.
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            try Tunnel.join(stream: channel, tcp: tcp, preface: preface, counter: counter)
        } catch {
            logger.error("cannot glue HBONE stream to its destination", metadata: ["error": "\(error)"])
            tcp.close(promise: nil)
            channel.close(promise: nil)
            return
        }
        logger.debug("HBONE stream established", metadata: ["request": "\(request.map { "\($0)" } ?? "?")"])
        if let request, let onEstablished { onEstablished(request, channel) }
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.record(counter.closeReason.map { .failed($0) } ?? .completed)
        }
    }

    /// Serves the stream here: 200, then the caller's pipeline on top of the byte codec.
    private func terminate(preface: Tunnel.Preface, local: LocalStream, context: ChannelHandlerContext) {
        let response = HPACKHeaders([(":status", HBONEStatus.established)])
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: response))), promise: nil)
        let channel = context.channel
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        do {
            try Tunnel.terminate(stream: channel, preface: preface, initialize: local.initialize)
        } catch {
            logger.error("cannot serve the HBONE stream locally", metadata: ["error": "\(error)"])
            record(.failed("cannot serve the stream locally: \(error)"))
            channel.close(promise: nil)
            return
        }
        if let request, let onEstablished { onEstablished(request, channel) }
        channel.closeFuture.assumeIsolated().whenComplete { _ in self.record(.completed) }
    }

    private func respond(status: Int, reason: String, context: ChannelHandlerContext) {
        var headers = HPACKHeaders([(":status", String(status))])
        if status != 401 { headers.add(name: HBONEStatus.reasonHeader, value: Self.headerSafe(reason)) }
        logger.info(
            "refusing HBONE stream",
            metadata: [
                "status": "\(status)", "reason": "\(reason)",
                "peer": "\(machine.peer)", "authority": "\(request.map { "\($0.authority)" } ?? "-")",
            ])
        record(.refused(status: status, reason: reason))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))))
            .whenComplete { _ in channel.close(promise: nil) }
    }

    private func record(_ outcome: StreamRecord.Outcome) {
        guard !recorded else { return }
        recorded = true
        onRecord?(
            StreamRecord(
                request: request, peer: machine.peer, outcome: outcome,
                bytesToDestination: counter?.fromFirst ?? 0, bytesFromDestination: counter?.fromSecond ?? 0,
                durationSeconds: Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9))
    }

    /// Header values may not hold control characters; reasons come from error texts.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) }.prefix(512))
    }
}
