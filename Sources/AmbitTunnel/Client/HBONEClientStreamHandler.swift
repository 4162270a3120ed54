import NIOCore
import NIOHPACK
import NIOHTTP2

/// Opens one CONNECT on a fresh stream and waits for the answer. On 200 it completes
/// `established`; anything else fails it with an error that says what the server meant.
/// DATA that arrives right behind the 200 is kept as the preface for the glue.
final class HBONEClientStreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let head: ConnectHead
    private let destination: String
    private var established: EventLoopPromise<Tunnel.Preface>?
    private var sent = false
    private var answered = false
    private var preface = Tunnel.Preface()
    private var succeedAtReadComplete = false

    init(head: ConnectHead, destination: String, established: EventLoopPromise<Tunnel.Preface>) {
        self.head = head
        self.destination = destination
        self.established = established
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { send(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        context.fireChannelActive()
    }

    private func send(context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        // Hold DATA in the stream until the glue is in place.
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: head.headers))), promise: nil)
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame) where !answered:
            answered = true
            let status = frame.headers.first(name: ":status") ?? "none"
            if status == HBONEStatus.established {
                // Complete at the end of this read, so DATA that came with the 200 joins
                // the preface instead of being lost before the glue is in place.
                preface.ended = frame.endStream
                succeedAtReadComplete = true
            } else {
                fail(
                    HBONEStatus.clientError(
                        status: status, reason: frame.headers.first(name: HBONEStatus.reasonHeader), destination: destination),
                    context: context)
            }
        case .data(let frame):
            if case .byteBuffer(let bytes) = frame.data, bytes.readableBytes > 0 { preface.bytes.append(bytes) }
            if frame.endStream { preface.ended = true }
        case .rstStream(let code):
            fail(TunnelError(.protocolError, "the HBONE server at \(destination) reset the stream (\(code)) before answering"), context: context)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if succeedAtReadComplete {
            succeedAtReadComplete = false
            established?.succeed(preface)
            established = nil
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        established?.fail(TunnelError(.protocolError, "the HBONE connection to \(destination) closed before the CONNECT was answered"))
        established = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(TunnelError(.protocolError, "the HBONE stream to \(destination) failed: \(error)"), context: context)
    }

    private func fail(_ error: TunnelError, context: ChannelHandlerContext) {
        established?.fail(error)
        established = nil
        context.close(promise: nil)
    }
}
