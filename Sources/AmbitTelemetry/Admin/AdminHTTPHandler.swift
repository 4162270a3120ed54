import Logging
import NIOCore
import NIOHTTP1

/// One admin connection, after NIOHTTP1's decoder and pipelining helper: collects each
/// request (head and body up to the limit), runs its handler off the event loop, writes
/// the response with a Content-Length, and keeps the connection or closes it.
///
/// Requests on one connection are answered in order: NIO's pipelining helper holds back
/// the next request until this one's response has ended.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case receiving(HTTPRequestHead, ByteBuffer)
        /// The handler is running; nothing else arrives until its response ends.
        case responding
        /// Sent an error and half-closed; reading on only to let the client see the answer.
        case discarding
    }

    private let routes: AdminRoutes
    private let maxBodyBytes: Int
    private let logger: Logger
    private var state = State.idle
    private var isActive = true

    init(routes: AdminRoutes, maxBodyBytes: Int, logger: Logger) {
        self.routes = routes
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodyBytes {
                rejectTooLarge(context: context)
            } else {
                state = .receiving(head, context.channel.allocator.buffer(capacity: 0))
            }
        case (.body(var chunk), .receiving(let head, var body)):
            // Chunked bodies have no length up front, so the limit is also checked as they grow.
            guard body.readableBytes + chunk.readableBytes <= maxBodyBytes else {
                rejectTooLarge(context: context)
                return
            }
            state = .idle  // drop the reference so the append below does not copy
            body.writeBuffer(&chunk)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            state = .responding
            dispatch(head: head, body: body, context: context)
        case (_, .discarding):
            break
        default:
            // The pipelining helper makes this impossible; if it happens, stop talking.
            logger.debug("unexpected HTTP part on admin connection; closing it")
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isActive = false
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // An idle keep-alive connection is closed so forgotten clients do not hold sockets;
        // one whose handler is still running is left alone.
        if event is IdleStateHandler.IdleStateEvent {
            if case .responding = state { return }
            context.close(promise: nil)
            return
        }
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A parse error has already been answered with 400 by HTTPServerProtocolErrorHandler;
        // either way this connection is done, and only this one.
        logger.debug("closing admin connection", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Dispatch

    private func dispatch(head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let keepAlive = head.isKeepAlive
        let (path, query) = Self.splitTarget(head.uri)
        let method = AdminMethod(rawValue: head.method.rawValue)
        switch routes.resolve(method, path) {
        case .notFound(let known):
            let list = known.isEmpty ? "(none)\n" : known.map { "  \($0)\n" }.joined()
            respond(.text("not found: \(path)\navailable paths:\n\(list)", status: 404), keepAlive: keepAlive, context: context)
        case .methodNotAllowed(let allowed):
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            var response = AdminResponse.text("method \(method) not allowed on \(path); use \(allow)\n", status: 405)
            response.headers.append(("Allow", allow))
            respond(response, keepAlive: keepAlive, context: context)
        case .handler(let handler):
            let request = AdminRequest(
                method: method, path: path, queryItems: query, headers: head.headers.map { ($0.name, $0.value) },
                body: Array(body.readableBytesView), remoteAddress: context.remoteAddress)
            // The handler is async and may be slow (it might ask another component); run it
            // as a task and come back to the event loop to write.
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask { await handler(request) }.whenSuccess { response in
                let (this, context) = bound.value
                this.respond(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func respond(_ response: AdminResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        guard isActive else { return }
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        state = .idle
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// 413, then a half-close: the client may still be sending the body, and closing a socket
    /// with unread data makes the kernel reset it, which can destroy the 413 before the
    /// client reads it. So keep reading (and dropping) until the client closes or goes idle.
    private func rejectTooLarge(context: ChannelHandlerContext) {
        var response = AdminResponse.text("request body larger than \(maxBodyBytes) bytes\n", status: 413)
        response.headers.append(("Connection", "close"))
        respond(response, keepAlive: true, context: context)
        state = .discarding
        context.close(mode: .output, promise: nil)
        // A client that never stops sending must not hold the socket forever either.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
    }

    // MARK: - Request target

    /// Splits `/path?query#fragment` (or an absolute-form `http://host/path?query`) into the
    /// path and decoded query items.
    static func splitTarget(_ target: String) -> (path: String, query: [(name: String, value: String)]) {
        var rest = target[...]
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        if rest.hasPrefix("http://") || rest.hasPrefix("https://") {
            let afterScheme = rest[rest.index(rest.firstIndex(of: ":")!, offsetBy: 3)...]
            rest = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        guard let mark = rest.firstIndex(of: "?") else { return (String(rest), []) }
        let items = rest[rest.index(after: mark)...].split(separator: "&", omittingEmptySubsequences: true).map {
            pair -> (name: String, value: String) in
            guard let equals = pair.firstIndex(of: "=") else { return (percentDecode(pair), "") }
            return (percentDecode(pair[..<equals]), percentDecode(pair[pair.index(after: equals)...]))
        }
        return (String(rest[..<mark]), items)
    }

    /// `%XX` to the byte, `+` to a space; a malformed escape is kept as written.
    static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), index + 2 < utf8.count,
                let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
