import NIOCore
import NIOHTTP1

/// The request that currently owns an upstream exchange: where response parts go.
/// Owner and exchange live on one event loop and call each other directly.
protocol UpstreamOwner: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged()
    /// The exchange's channel closed or failed before the owner released it.
    func upstreamClosed(_ error: (any Error)?)
    /// Whether the downstream can take more response bytes now (backpressure).
    var downstreamWritable: Bool { get }
}

/// One upstream HTTP exchange: the last handler of an HTTP/1 upstream connection (reused
/// for request after request), or of one HTTP/2 stream (one request).
///
/// Reads only while the owner's downstream is writable, so a slow client stops the
/// upstream: unread bytes stay in the kernel (HTTP/1) or in the HTTP/2 window.
final class UpstreamHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    enum Kind { case http1, http2 }

    let endpoint: UpstreamEndpoint
    let kind: Kind
    weak var owner: (any UpstreamOwner)?
    private(set) var context: ChannelHandlerContext?
    private var pendingRead = false
    private(set) var closed = false
    /// The connection is becoming a byte relay (101): what the decoder still delivers (the
    /// 101's end) is no longer HTTP for anyone.
    var switching = false
    /// Called once when the channel closes (the pool forgets the connection).
    var onClose: (() -> Void)?

    init(endpoint: UpstreamEndpoint, kind: Kind) {
        self.endpoint = endpoint
        self.kind = kind
    }

    var isUsable: Bool { !closed && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func send(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    /// Abandons the exchange: the connection cannot be reused (HTTP/1 mid-message) or the
    /// stream is reset (HTTP/2).
    func abort() {
        owner = nil
        context?.close(promise: nil)
    }

    /// The owner's downstream became writable again.
    func resumeReading() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if switching { return }
        guard let owner else {
            // An idle keep-alive connection must not talk: whatever it says is out of step.
            context.close(promise: nil)
            return
        }
        owner.upstreamReceived(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        owner?.upstreamWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(error)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server ended its side: an HTTP/1 server may do so only after a response, so the
        // connection is done for reuse; an owner mid-response hears of it via channelInactive.
        if case ChannelEvent.inputClosed = event, owner == nil, !switching { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if owner?.downstreamWritable ?? true {
            context.read()
        } else {
            pendingRead = true
        }
    }

    private func finish(_ error: (any Error)?) {
        guard !closed else { return }
        closed = true
        let owner = self.owner
        self.owner = nil
        onClose?()
        onClose = nil
        owner?.upstreamClosed(error)
    }
}
