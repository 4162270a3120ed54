import NIOCore

/// Holds a tunnel's first bytes until `ProtocolSniffer` can tell what they are, then
/// installs the matching pipeline behind itself, replays the bytes into it and leaves.
///
/// A stream whose client says nothing within `timeout` (a server-first protocol) or ends
/// before a verdict is carried as TCP; a port declared `http` falls back to HTTP/1 instead,
/// so a malformed request gets an HTTP error rather than being relayed.
final class ProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Detected: Equatable { case http1, http2, tcp }

    private let fallback: Detected
    private let timeout: TimeAmount
    private let install: (Detected, Channel) throws -> Void
    private var buffered: ByteBuffer?
    private var ended = false
    private var timer: Scheduled<Void>?
    private var decided = false

    init(declaredHTTP: Bool, timeout: TimeAmount, install: @escaping (Detected, Channel) throws -> Void) {
        self.fallback = declaredHTTP ? .http1 : .tcp
        self.timeout = timeout
        self.install = install
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) {
            loopBoundSelf.value.decide(loopBoundSelf.value.fallback, context: loopBoundContext.value)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        switch ProtocolSniffer.sniff(buffered!) {
        case .needMoreData: break
        case .http1: decide(.http1, context: context)
        case .http2: decide(.http2, context: context)
        case .tcp: decide(fallback == .http1 ? .http1 : .tcp, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, !decided {
            ended = true
            let verdict = buffered.map(ProtocolSniffer.sniff) ?? .needMoreData
            decide(verdict == .http1 ? .http1 : verdict == .http2 ? .http2 : fallback, context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func decide(_ detected: Detected, context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        timer?.cancel()
        do {
            try install(detected, context.channel)
        } catch {
            context.close(promise: nil)
            return
        }
        if let buffered {
            self.buffered = nil
            context.fireChannelRead(wrapInboundOut(buffered))
            context.fireChannelReadComplete()
        }
        if ended { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
