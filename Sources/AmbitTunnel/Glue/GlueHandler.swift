import NIOCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Joins two channels into one byte pipe, in both directions.
///
/// This is the glue of SwiftNIO's connect-proxy example, grown the two things a tunnel
/// needs:
///
/// - **Backpressure.** A side reads only while its partner is writable. A slow reader
///   therefore stops the writer at the other end: on the HTTP/2 side an unread stream
///   sends no WINDOW_UPDATE, on the TCP side an unread socket fills the kernel buffer.
///   Memory per tunnel is bounded by the windows and watermarks, never by the transfer.
/// - **Half-close.** End-of-input on one side (TCP FIN, or END_STREAM as the stream codec
///   reports it) becomes end-of-output on the other; the reverse direction keeps flowing.
///   When a side closes after a clean end, the other side first writes out what it holds.
///
/// Both channels must live on the same event loop: partners call each other directly.
final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// The partner told us its input ended; our output is shut.
    private var outputEnded = false
    let counter: ByteCounter
    private let direction: ByteCounter.Direction

    private init(counter: ByteCounter, direction: ByteCounter.Direction) {
        self.counter = counter
        self.direction = direction
    }

    /// A matched pair: put `first` in one channel and `second` in the other. Bytes read by
    /// `first` are counted as `firstReads`.
    static func matchedPair(counter: ByteCounter) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(counter: counter, direction: .fromFirst)
        let second = GlueHandler(counter: counter, direction: .fromSecond)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    // MARK: - Calls from the partner

    private func partnerWrite(_ data: ByteBuffer) {
        context?.write(wrapOutboundOut(data), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerInputEnded() {
        guard let context, !outputEnded else { return }
        outputEnded = true
        // Shut our output only after what we hold is written: a socket whose input is
        // already shut escalates an output close to a full close, which would drop it.
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
    }

    /// The partner channel went away. If it failed, close at once. If it ended cleanly,
    /// write out what we still hold, then:
    /// - a socket closes;
    /// - a stream ends its side (END_STREAM) and lets the peer end the other: closing it
    ///   now would reset it and could cut off our own last bytes still in flow control.
    ///   If the peer never ends it, it is reset after `lingerTimeout`.
    private func partnerClosed(cleanly: Bool) {
        guard let context else { return }
        guard cleanly else {
            // Pass the failure on as a failure: a socket gets a TCP reset (SO_LINGER 0) so
            // the application sees the connection broke rather than a normal end; a stream
            // is reset (closing a stream channel early sends RST_STREAM).
            if !isStreamSide {
                _ = (context.channel as? SocketOptionProvider)?.setSoLinger(Self.resetOnClose)
            }
            context.close(promise: nil)
            return
        }
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: flushed)
        let isStream = self.isStreamSide
        let linger = Self.lingerTimeout
        flushed.futureResult.assumeIsolated().whenComplete { _ in
            if isStream {
                context.close(mode: .output, promise: nil)
                let channel = context.channel
                context.eventLoop.scheduleTask(in: linger) { channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }

    #if canImport(Glibc)
    static let resetOnClose = Glibc.linger(l_onoff: 1, l_linger: 0)
    #else
    static let resetOnClose = Darwin.linger(l_onoff: 1, l_linger: 0)
    #endif

    /// How long a stream whose socket is gone may wait for the peer to end it.
    static let lingerTimeout = TimeAmount.seconds(30)

    /// True for the handler in the HTTP/2 stream channel.
    private var isStreamSide: Bool { direction == .fromFirst }

    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerBecameWritable() {
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
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        counter.add(bytes.readableBytes, direction)
        partner?.partnerWrite(bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let partner = self.partner
        self.partner = nil
        partner?.partner = nil
        // Clean unless an error was seen: NIO closes a socket whose output is already shut
        // as soon as it reads EOF, without an inputClosed event, so "saw EOF" is no test.
        partner?.partnerClosed(cleanly: counter.closeReason == nil)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            partner?.partnerInputEnded()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        counter.recordFailure("\(direction == .fromFirst ? counter.firstName : counter.secondName): \(error)")
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }
}

/// Bytes moved through one glued pair, and why it ended. Both channels share one event
/// loop, so plain stored properties are safe; `snapshot` is read from that loop too.
final class ByteCounter {
    enum Direction { case fromFirst, fromSecond }

    let firstName: String
    let secondName: String
    private(set) var fromFirst = 0
    private(set) var fromSecond = 0
    private(set) var closeReason: String?

    init(firstName: String, secondName: String) {
        self.firstName = firstName
        self.secondName = secondName
    }

    func add(_ n: Int, _ direction: Direction) {
        switch direction {
        case .fromFirst: fromFirst += n
        case .fromSecond: fromSecond += n
        }
    }

    func recordFailure(_ reason: String) {
        if closeReason == nil { closeReason = reason }
    }
}
