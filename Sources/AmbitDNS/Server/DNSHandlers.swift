import Logging
import NIOCore

/// One DNS server's UDP listener: each datagram is a query, answered to its sender.
final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    private let engine: DNSQueryEngine
    private let logger: Logger

    init(engine: DNSQueryEngine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let bytes = Array(envelope.data.readableBytesView)
        switch engine.plan(bytes, transport: .udp) {
        case .reply(let reply, _):
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: reply))), promise: nil)
        case .drop:
            break
        case .forward(let query):
            let channel = context.channel
            let engine = engine
            Task {
                let reply = await engine.forward(query, bytes: bytes, transport: .udp)
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: reply)), promise: nil)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    // A UDP socket has no connection to lose: log and keep serving.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("error on the DNS UDP listener", metadata: ["error": "\(error)"])
    }
}

/// One TCP connection to the DNS server: length-prefixed queries, several per connection,
/// answered as each is ready (RFC 7766 allows out of order). The connection closes after
/// the idle timeout with nothing outstanding, or once the client has shut its side and
/// every answer has been written.
final class TCPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let engine: DNSQueryEngine
    private var framer = DNSStreamFramer()
    private var outstanding = 0
    private var inputClosed = false

    init(engine: DNSQueryEngine) {
        self.engine = engine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        framer.append(unwrapInboundIn(data).readableBytesView)
        while let message = framer.next() {
            switch engine.plan(message, transport: .tcp) {
            case .reply(let reply, _):
                context.write(wrapOutboundOut(ByteBuffer(bytes: DNSStreamFramer.frame(reply))), promise: nil)
            case .drop:
                break
            case .forward(let query):
                outstanding += 1
                let channel = context.channel
                let engine = engine
                let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
                Task {
                    let reply = await engine.forward(query, bytes: message, transport: .tcp)
                    channel.eventLoop.execute { handler.value.forwardFinished(reply, channel: channel) }
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    private func forwardFinished(_ reply: [UInt8], channel: any Channel) {
        outstanding -= 1
        let written = channel.writeAndFlush(ByteBuffer(bytes: DNSStreamFramer.frame(reply)))
        if inputClosed, outstanding == 0 {
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let idle as IdleStateHandler.IdleStateEvent where idle == .read:
            if outstanding == 0 { context.close(promise: nil) }
        case ChannelEvent.inputClosed:
            inputClosed = true
            if outstanding == 0 {
                // Close after what is queued has been written, not instead of it.
                context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
