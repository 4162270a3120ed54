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
