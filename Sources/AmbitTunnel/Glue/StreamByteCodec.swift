import NIOCore
import NIOHTTP2

/// Lets an HTTP/2 stream channel look like a TCP socket to the glue: DATA frames in and
/// out as plain bytes, END_STREAM as half-close.
///
/// - inbound DATA → `ByteBuffer`; END_STREAM (on DATA or trailers) → `ChannelEvent.inputClosed`
/// - outbound `ByteBuffer` → DATA; `close(mode: .output)` → an empty DATA with END_STREAM
///   (a stream channel cannot shut only its output, so we turn the request into the frame)
/// - RST_STREAM from the peer → an error, so the glue closes the TCP side abortively.
final class StreamByteCodec: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var sentEndStream = false
    private var receivedEndStream = false
    /// Completes when the last DATA we were given has gone out; an empty write (the glue's
    /// "tell me when all is written") waits on it instead of sending an empty frame,
    /// which peers count as a possible flood.
    private var lastWrite: EventLoopFuture<Void>?

    init() {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let frame):
            if case .byteBuffer(let bytes) = frame.data, bytes.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(bytes))
            }
            if frame.endStream { endInput(context: context) }
        case .headers(let headers):
            // Trailers: nothing to carry, but END_STREAM still ends the input.
            if headers.endStream { endInput(context: context) }
        case .rstStream(let code):
            context.fireErrorCaught(TunnelError(.protocolError, "the peer reset the stream (\(code))"))
        default:
            break
        }
    }

    private func endInput(context: ChannelHandlerContext) {
        guard !receivedEndStream else { return }
        receivedEndStream = true
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        if bytes.readableBytes == 0 || sentEndStream {
            if let lastWrite { lastWrite.cascade(to: promise) } else { promise?.succeed(()) }
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        lastWrite = written.futureResult
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(bytes)))), promise: written)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            guard !sentEndStream else {
                promise?.succeed(())
                return
            }
            sentEndStream = true
            let written = promise ?? context.eventLoop.makePromise()
            lastWrite = written.futureResult
            context.writeAndFlush(
                wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: written)
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        case .all:
            context.close(mode: .all, promise: promise)
        }
    }
}
