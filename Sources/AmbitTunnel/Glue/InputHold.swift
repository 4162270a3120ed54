import NIOCore

/// Holds what a TCP socket reads before its tunnel exists.
///
/// `autoRead` off is not enough to keep a socket quiet: when the peer half-closes, NIO
/// drains the socket to EOF at once, whatever autoRead says. A client that sends a request
/// and shuts its write side before the CONNECT is answered would lose that request.
/// This handler sits in the socket from the moment it exists; `Tunnel.join` takes what it
/// held and replays it into the tunnel, then removes it.
public final class InputHoldHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer

    private(set) var held = Tunnel.Preface()

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.bytes.append(unwrapInboundIn(data))
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            held.ended = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func take() -> Tunnel.Preface {
        defer { held = Tunnel.Preface() }
        return held
    }
}

/// Calls `body` once the channel is active, then leaves the pipeline.
///
/// An accepting bootstrap runs its child initializer before the child is registered, and
/// the registration can come a few event-loop turns later. Work started from the
/// initializer (opening a tunnel, dialling) can finish before that, and a glue that finds
/// its socket inactive takes it for closed. Starting from `channelActive` rules that out.
public final class StartWhenActive: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    private var body: ((Channel) -> Void)?

    public init(_ body: @escaping (Channel) -> Void) {
        self.body = body
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        start(context)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard let body else { return }
        self.body = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        body(context.channel)
    }
}
