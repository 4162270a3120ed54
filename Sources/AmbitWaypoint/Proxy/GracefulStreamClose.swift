import NIOCore

/// Turns a full close of a terminated HBONE stream into END_STREAM first.
///
/// NIO's HTTP handlers end an HTTP/1 connection with `close()`. On a socket that is a FIN
/// after the written bytes; on an HTTP/2 stream channel it is RST_STREAM, which the node
/// turns into a TCP reset that can destroy a response the client has not read yet. So the
/// stream ends its output (END_STREAM after everything written), the node half-closes the
/// client's socket, and the stream closes when the peer ends its side — or after `linger`.
final class GracefulStreamClose: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    static let linger = TimeAmount.seconds(30)
    private var ending = false

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all, !ending, context.channel.isActive else {
            context.close(mode: mode, promise: promise)
            return
        }
        ending = true
        context.close(mode: .output, promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) }
        promise?.succeed(())
    }
}
