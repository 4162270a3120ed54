// A keep-alive HTTP/1.1 client connection, one request at a time, used by the load
// generator and by `serve --call`. Everything about one connection happens on its
// channel's event loop; callers are on that loop too (the load generator and the server
// each run on one), so there is no locking and no Task hop per request.
import NIOCore
import NIOHTTP1
import NIOPosix

/// One response: status, headers and (when the connection keeps bodies) the body.
public struct ClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: ByteBuffer?
    public var bodyBytes: Int
}

/// Collects the response to the request in flight and completes its promise.
final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let keepBody: Bool
    private var pending: EventLoopPromise<ClientResponse>?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var bodyBytes = 0
    /// False once the server said `connection: close` or the channel went away.
    private(set) var reusable = true

    init(keepBody: Bool) { self.keepBody = keepBody }

    func expect(_ promise: EventLoopPromise<ClientResponse>) {
        precondition(pending == nil, "one request at a time on a client connection")
        pending = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            bodyBytes = 0
            if !h.isKeepAlive { reusable = false }
        case .body(var chunk):
            bodyBytes += chunk.readableBytes
            if keepBody {
                if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
            }
        case .end:
            guard let head, let promise = pending else { return }
            pending = nil
            self.head = nil
            promise.succeed(ClientResponse(status: Int(head.status.code), headers: head.headers, body: body, bodyBytes: bodyBytes))
            if !reusable { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        reusable = false
        failPending(TestAppError("the server closed the connection before answering"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        reusable = false
        failPending(error)
        context.close(promise: nil)
    }

    private func failPending(_ error: Error) {
        if let promise = pending {
            pending = nil
            promise.fail(error)
        }
    }
}

/// One keep-alive connection. Event-loop confined: use it only on `channel.eventLoop`.
public final class HTTP1ClientConnection: @unchecked Sendable {
    public let channel: Channel
    private let collector: ResponseCollector
    public let endpoint: HostPort

    public var isReusable: Bool { channel.isActive && collector.reusable }

    private init(channel: Channel, collector: ResponseCollector, endpoint: HostPort) {
        self.channel = channel
        self.collector = collector
        self.endpoint = endpoint
    }

    /// Connects on `eventLoop`; the future completes on that loop.
    public static func connect(
        to endpoint: HostPort, on eventLoop: EventLoop, keepBody: Bool, connectTimeout: TimeAmount = .seconds(5)
    ) -> EventLoopFuture<HTTP1ClientConnection> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(keepBody: keepBody))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMapThrowing { channel in
                let collector = try channel.pipeline.syncOperations.handler(type: ResponseCollector.self)
                return HTTP1ClientConnection(channel: channel, collector: collector, endpoint: endpoint)
            }
    }

    /// Sends one request; the future completes on the channel's loop with the whole response.
    public func send(method: HTTPMethod = .GET, target: String, headers: HTTPHeaders, body: ByteBuffer? = nil) -> EventLoopFuture<ClientResponse> {
        channel.eventLoop.preconditionInEventLoop()
        let promise = channel.eventLoop.makePromise(of: ClientResponse.self)
        guard isReusable else {
            promise.fail(TestAppError("the connection to \(endpoint) is closed"))
            return promise.futureResult
        }
        collector.expect(promise)
        var headers = headers
        if let body { headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes)) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return promise.futureResult
    }

    public func close() { channel.close(promise: nil) }
}

/// Idle keep-alive connections per endpoint, for `serve --call`. Event-loop confined.
final class HTTP1ConnectionPool: @unchecked Sendable {
    private let eventLoop: EventLoop
    private var idle: [String: [HTTP1ClientConnection]] = [:]
    private let maxIdlePerEndpoint = 16

    init(eventLoop: EventLoop) { self.eventLoop = eventLoop }

    func get(_ url: HTTPURL, headers: HTTPHeaders) -> EventLoopFuture<ClientResponse> {
        eventLoop.preconditionInEventLoop()
        let key = url.endpoint.description
        var headers = headers
        headers.replaceOrAdd(name: "host", value: url.hostHeader)
        let connection: EventLoopFuture<HTTP1ClientConnection>
        if let reused = takeIdle(key) {
            connection = eventLoop.makeSucceededFuture(reused)
        } else {
            connection = HTTP1ClientConnection.connect(to: url.endpoint, on: eventLoop, keepBody: true)
        }
        return connection.flatMap { conn in
            conn.send(target: url.target, headers: headers).map { response in
                self.giveBack(conn, key: key)
                return response
            }
        }
    }

    private func takeIdle(_ key: String) -> HTTP1ClientConnection? {
        while let conn = idle[key]?.popLast() {
            if conn.isReusable { return conn }
        }
        return nil
    }

    private func giveBack(_ conn: HTTP1ClientConnection, key: String) {
        guard conn.isReusable else { return }
        if idle[key, default: []].count < maxIdlePerEndpoint { idle[key, default: []].append(conn) } else { conn.close() }
    }

    func closeAll() {
        for conns in idle.values { for conn in conns { conn.close() } }
        idle = [:]
    }
}
