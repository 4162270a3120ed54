import NIOCore
import NIOHTTP2

/// Sends an HTTP/2 PING every `interval` and closes the connection if the answer does not
/// come within `timeout`.
///
/// A pooled tunnel connection can sit unused for minutes; without a ping, a peer that
/// vanished (node rebooted, NAT entry expired) is found only when a new stream hangs on it.
final class KeepaliveHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let interval: TimeAmount
    private let timeout: TimeAmount
    private var pingTimer: RepeatedTask?
    private var deadline: Scheduled<Void>?
    private var outstanding: HTTP2PingData?
    private var counter: UInt64 = 0

    init(interval: TimeAmount, timeout: TimeAmount) {
        self.interval = interval
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard pingTimer == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pingTimer = context.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let (handler, context) = loopBound.value
            handler.sendPing(context: context)
        }
    }

    private func sendPing(context: ChannelHandlerContext) {
        guard outstanding == nil else { return }
        counter &+= 1
        let data = HTTP2PingData(withInteger: counter)
        outstanding = data
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(data, ack: false))), promise: nil)
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .ping(let payload, ack: true) = frame.payload, payload == outstanding {
            outstanding = nil
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pingTimer?.cancel()
        deadline?.cancel()
        context.fireChannelInactive()
    }
}
