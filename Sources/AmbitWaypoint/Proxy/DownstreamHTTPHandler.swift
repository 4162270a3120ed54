import AmbitCore
import NIOCore
import NIOHTTP1

/// What one downstream tunnel (or plain connection) carries, fixed when it opens.
final class DownstreamSession {
    let source: SourcePeer
    /// The service port the CONNECT named; nil on the plain listener (chosen per request by Host).
    let destination: WaypointScope.Destination?
    let loop: WaypointLoop
    let telemetry: WaypointTelemetry
    /// The plain benchmark listener: plain upstreams, backends by Host header.
    let plain: Bool

    init(source: SourcePeer, destination: WaypointScope.Destination?, loop: WaypointLoop, telemetry: WaypointTelemetry, plain: Bool) {
        self.source = source
        self.destination = destination
        self.loop = loop
        self.telemetry = telemetry
        self.plain = plain
    }

    var pool: UpstreamPool { plain ? loop.plainPool : loop.meshPool }

    /// What L7 authorization knows of the connection: the verified client identity, its
    /// address (from `forwarded`), and the service address it asked for.
    private lazy var connectionBase = AuthorizationEvaluator.Connection(
        sourcePrincipal: source.principal,
        sourceIP: source.address.flatMap { try? HostPort(parsing: $0) }.flatMap { IPAddress($0.host) },
        destinationIP: destination?.service.addresses.first, destinationPort: 0)

    func connection(port: Int) -> AuthorizationEvaluator.Connection {
        var connection = connectionBase
        connection.destinationPort = port
        return connection
    }

    /// The client's IP as text, for consistent hashing by source IP (parsed on first use).
    lazy var sourceIP: String? = source.address.flatMap { try? HostPort(parsing: $0) }?.host

    func backend(for head: HTTPRequestHead) -> Backend? {
        if let destination { return loop.config.backend(for: destination) }
        return loop.config.backend(forHost: head.headers.first(name: "host"))
    }
}

/// Serves requests of one downstream: an HTTP/1.1 connection (one request after another,
/// keep-alive) or one HTTP/2 stream (behind `HTTP2FramePayloadToHTTP1ServerCodec`), so one
/// request path serves both. Each request runs `RequestPath.plan`, then streams its body to
/// an upstream exchange and the response back, never holding a whole body — except up to
/// 64 KiB kept for a retry or a mirror when the route has one.
///
/// Backpressure both ways: the downstream is read only while the upstream can take more;
/// the upstream is read only while the downstream can (`downstreamWritable`).
///
/// The attempt loop (balancing, timeouts, retries, outlier feedback) is in
/// `DownstreamHTTPHandler+Attempts.swift`.
final class DownstreamHTTPHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamOwner {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// One request in flight.
    final class Exchange {
        let startedAt: NIODeadline
        var head: HTTPRequestHead
        var requestID: String?
        var backend: Backend?
        var endpoint: UpstreamEndpoint?
        var upstream: UpstreamHTTPHandler?
        /// The admitted plan (nil for a local answer); its pool slots are released once.
        var forward: RequestPath.Forward?
        /// The request as every attempt sends it, before `x-envoy-attempt-count`.
        var upstreamHead: HTTPRequestHead?
        /// The balancer's pick for the attempt in flight.
        var lease: EndpointBalancer.Lease?
        /// Changes with every attempt, so late callbacks of an abandoned one are ignored.
        var attemptToken = 0
        /// Attempts sent (the value of `x-envoy-attempt-count`).
        var attempts = 0
        /// The rule's retry state; nil when the rule has no retry stanza.
        var retry: RetryState?
        /// Holds a `maxRetries` slot of the pool for the retry in flight.
        var holdsRetrySlot = false
        /// Body parts kept for a replay (retry) or a mirror; nil when not kept (no need, or
        /// the body outgrew `RetryPolicy.maxBufferedBodyBytes`).
        var replay: [HTTPClientRequestPart]?
        var replayBytes = 0
        var deadlines: RequestDeadlines?
        /// The one timer of the request: fault delay, backoff, or the attempt's timeout.
        var timer: Scheduled<Void>?
        var trace = RequestTrace()
        var setCookie: String?
        /// The route's response header edits (usually none).
        var responseHeaders: [HeaderModifier] = []
        /// Parts read before the upstream exchange was ready (at most one read's worth:
        /// reading stops while waiting).
        var pending: [HTTPClientRequestPart] = []
        var requestEnded = false
        var responseStarted = false
        var responseEnded = false
        var upstreamKeepAlive = true
        var answeredLocally = false
        var completed = false
        /// The request asked for `Upgrade` (WebSocket) over HTTP/1.1.
        var wantsUpgrade = false
        /// The upstream said 101: the rest is bytes, not HTTP.
        var upgraded = false
        var status = 0
        var flags = ResponseFlag.none
        var bytesReceived = 0
        var bytesSent = 0
        let isGRPC: Bool

        init(head: HTTPRequestHead, startedAt: NIODeadline) {
            self.head = head
            self.startedAt = startedAt
            self.isGRPC = head.headers.first(name: "content-type")?.hasPrefix("application/grpc") ?? false
        }
    }

    let session: DownstreamSession
    let isHTTP2: Bool
    var context: ChannelHandlerContext?
    var exchange: Exchange?
    var pendingRead = false
    var closing = false

    init(session: DownstreamSession, isHTTP2: Bool) {
        self.session = session
        self.isHTTP2 = isHTTP2
    }

    var downstreamWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: - Downstream events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            start(head, context: context)
        case .body(let bytes):
            guard let exchange else { return }
            exchange.bytesReceived += bytes.readableBytes
            if exchange.answeredLocally { return }
            let part = HTTPClientRequestPart.body(.byteBuffer(bytes))
            if exchange.replay != nil { keepForReplay(part, bytes: bytes.readableBytes, exchange: exchange) }
            if let upstream = exchange.upstream {
                upstream.send(part)
            } else {
                exchange.pending.append(part)
            }
        case .end(let trailers):
            guard let exchange else { return }
            exchange.requestEnded = true
            if exchange.answeredLocally {
                if exchange.responseEnded { finish(exchange, context: context) }
                return
            }
            if exchange.replay != nil {
                exchange.replay?.append(.end(trailers))
                sendMirrors(exchange)
            }
            if let upstream = exchange.upstream {
                upstream.send(.end(trailers))
                upstream.flush()
                if exchange.responseEnded { finish(exchange, context: context) }
            } else {
                exchange.pending.append(.end(trailers))
            }
        }
    }

    /// Keeps a body part for a replay while the body stays within the buffer; past it,
    /// nothing is kept and the request can no longer be retried or mirrored.
    private func keepForReplay(_ part: HTTPClientRequestPart, bytes: Int, exchange: Exchange) {
        exchange.replayBytes += bytes
        if exchange.replayBytes > RetryPolicy.maxBufferedBodyBytes {
            exchange.replay = nil
            exchange.retry?.bodyOutgrewBuffer()
        } else {
            exchange.replay?.append(part)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstream?.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if let exchange, !exchange.requestEnded, !exchange.answeredLocally {
            // Mid-request: read only when the upstream can take it.
            if let upstream = exchange.upstream, upstream.isWritable {
                context.read()
            } else {
                pendingRead = true
            }
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let exchange {
            if !exchange.responseEnded {
                // The client went away first.
                exchange.flags = ResponseFlag.downstreamConnectionTermination
                exchange.upstream?.abort()
                exchange.upstream = nil
            }
            complete(exchange)
            self.exchange = nil
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // MARK: - The request path

    private func start(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        var head = requestHead
        let exchange = Exchange(head: head, startedAt: .now())
        exchange.wantsUpgrade = !isHTTP2 && head.headers.contains(name: "upgrade")
        self.exchange = exchange
        let loop = session.loop
        if let id = head.headers.first(name: "x-request-id") {
            exchange.requestID = id
        } else {
            let id = loop.requestIDs.next()
            exchange.requestID = id
            head.headers.add(name: "x-request-id", value: id)
        }
        let tracer = session.telemetry.tracer
        if tracer.isEnabled {
            // Before routing, so a route's header edits see the trace headers the upstream gets.
            exchange.trace = tracer.begin(&head, sourcePrincipal: session.source.principalURI)
        }
        switch RequestPath.plan(head: &head, destination: session.backend(for: head), session: session, multiplexed: isHTTP2, loop: loop) {
        case .respond(let reply):
            respondLocally(reply, exchange: exchange, context: context)
        case .forward(let forward):
            exchange.forward = forward
            exchange.responseHeaders = forward.responseHeaders
            exchange.backend = forward.backend
            exchange.setCookie = forward.setCookie
            exchange.upstreamHead = Self.upstreamHead(head)
            if let policy = forward.rule?.retryPolicy {
                exchange.retry = RetryState(policy: policy, method: head.method.rawValue, bodyBuffered: true)
                forward.destination.budget.recordRequest(now: loop.seconds)
            }
            if exchange.retry != nil || !forward.mirrors.isEmpty { exchange.replay = [] }
            if let delay = forward.delay, delay > .zero {
                // Fault injection's delay: the request waits on the loop, reading nothing.
                exchange.timer = loop.loop.scheduleTask(in: .nanoseconds(RetryBackoff.nanoseconds(delay))) { [weak self] in
                    guard let self, self.exchange === exchange else { return }
                    exchange.timer = nil
                    self.beginAttempts(exchange)
                }
            } else {
                beginAttempts(exchange)
            }
        }
    }

    func attach(_ upstream: UpstreamHTTPHandler, to exchange: Exchange, context: ChannelHandlerContext) {
        exchange.upstream = upstream
        upstream.owner = self
        for part in exchange.pending { upstream.send(part) }
        exchange.pending = []
        upstream.flush()
        if pendingRead, upstream.isWritable {
            pendingRead = false
            context.read()
        }
    }

    /// The request as the upstream gets it: HTTP/1.1 framing, hop-by-hop headers dropped
    /// (RFC 9110 §7.6.1), except what a WebSocket upgrade needs.
    static func upstreamHead(_ head: HTTPRequestHead) -> HTTPRequestHead {
        var upstream = head
        upstream.version = .http1_1
        let upgrade = head.headers.contains(name: "upgrade")
        if !upgrade { removeHopByHop(&upstream.headers) }
        return upstream
    }

    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        for listed in headers[canonicalForm: "connection"] where !listed.isEmpty {
            headers.remove(name: String(listed))
        }
        for name in ["connection", "keep-alive", "proxy-connection", "upgrade"] where headers.contains(name: name) {
            headers.remove(name: name)
        }
    }

    // MARK: - Upstream events

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let exchange, let context, !exchange.upgraded else { return }
        switch part {
        case .head(let head) where head.status == .switchingProtocols && exchange.wantsUpgrade:
            switchProtocols(head, exchange: exchange, context: context)
        case .head(var head):
            if responseHeadRetries(head, exchange: exchange) { return }
            exchange.responseStarted = true
            exchange.status = Int(head.status.code)
            exchange.upstreamKeepAlive = head.isKeepAlive
            RequestPath.filterResponse(&head, modifiers: exchange.responseHeaders)
            if let cookie = exchange.setCookie { head.headers.add(name: "set-cookie", value: cookie) }
            head.version = isHTTP2 ? .http2 : .http1_1
            if !isHTTP2 {
                Self.removeHopByHop(&head.headers)
                // The response is re-framed for this connection by the encoder.
                if head.headers.contains(name: "transfer-encoding") { head.headers.remove(name: "transfer-encoding") }
                if !exchange.head.isKeepAlive { head.headers.replaceOrAdd(name: "connection", value: "close") }
            }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(let bytes):
            exchange.bytesSent += bytes.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        case .end(let trailers):
            exchange.responseEnded = true
            endAttempt(exchange, outcome: nil)
            if exchange.requestEnded {
                finish(exchange, context: context, writing: .end(trailers))
            } else if !isHTTP2 {
                // The upstream answered before the request body was complete (a 413, an
                // early error): the rest of the body is unwanted and the connection cannot
                // carry another request in step.
                closing = true
                finish(exchange, context: context, writing: .end(trailers))
            } else {
                // HTTP/2: the stream finishes when the client ends its side.
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            }
        }
    }

    /// 101: the client gets the upstream's answer as is (its Upgrade and Connection headers
    /// are the point), and both sides become a byte relay. The request is logged now with
    /// 101; the relay's bytes are the WebSocket session's.
    private func switchProtocols(_ head: HTTPResponseHead, exchange: Exchange, context: ChannelHandlerContext) {
        guard let upstream = exchange.upstream, let upstreamChannel = upstream.context?.channel else { return }
        exchange.upgraded = true
        exchange.responseStarted = true
        exchange.responseEnded = true
        exchange.status = 101
        var response = head
        response.version = .http1_1
        context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
        // The connection leaves the pool for good: it is the WebSocket now.
        upstream.switching = true
        upstream.owner = nil
        upstream.onClose = nil
        exchange.upstream = nil
        self.exchange = nil
        complete(exchange)
        UpgradeSwitch.perform(downstream: context.channel, upstream: upstreamChannel) { _ in }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged() {
        guard let exchange, let upstream = exchange.upstream, upstream.isWritable, pendingRead else { return }
        pendingRead = false
        context?.read()
    }

    func upstreamClosed(_ error: (any Error)?) {
        guard let exchange, let context, exchange.upstream != nil, !exchange.responseEnded else { return }
        exchange.upstream = nil
        if !exchange.responseStarted {
            attemptFailed(exchange, outcome: .reset, reply: .resetBeforeHeaders)
        } else {
            // Mid-response: the client must see a broken response, not a short one that
            // looks complete. An HTTP/1 connection closes; an HTTP/2 stream is reset.
            exchange.flags = ResponseFlag.upstreamConnectionTermination
            breakResponse(exchange, context: context)
        }
    }

    /// Ends a response that already started and cannot be completed.
    func breakResponse(_ exchange: Exchange, context: ChannelHandlerContext) {
        complete(exchange)
        self.exchange = nil
        context.close(promise: nil)
    }

    // MARK: - Finishing

    func respondLocally(_ reply: LocalReply, exchange: Exchange, context: ChannelHandlerContext, extraFlag: String? = nil) {
        exchange.answeredLocally = true
        exchange.pending = []
        exchange.responseStarted = true
        exchange.status = Int(reply.status.code)
        let flag = reply.responseFlag ?? ResponseFlag.none
        exchange.flags = extraFlag.map { flag == ResponseFlag.none ? $0 : "\(flag),\($0)" } ?? flag
        var headers = reply.headers
        if !headers.contains(name: "content-type") { headers.add(name: "content-type", value: "text/plain") }
        headers.replaceOrAdd(name: "content-length", value: String(reply.body.utf8.count))
        if !isHTTP2, !exchange.requestEnded || !exchange.head.isKeepAlive {
            // Not reading the rest of the body: the connection cannot be reused.
            headers.add(name: "connection", value: "close")
            closing = true
        }
        let body = context.channel.allocator.buffer(string: reply.body)
        exchange.bytesSent = body.readableBytes
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: isHTTP2 ? .http2 : .http1_1, status: reply.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        exchange.responseEnded = true
        if exchange.requestEnded || closing {
            finish(exchange, context: context, writing: .end(nil))
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        if pendingRead {
            pendingRead = false
            context.read()
        }
    }

    /// Both messages are done (or the rest is abandoned): account, give the upstream back,
    /// and close the connection if it cannot go on.
    ///
    /// The exchange is detached before `writing` (the response's end) goes out: writing the
    /// end lets NIO's pipelining handler deliver the next request at once, re-entrantly,
    /// and that request must find this handler idle.
    func finish(_ exchange: Exchange, context: ChannelHandlerContext, writing last: HTTPServerResponsePart? = nil) {
        guard self.exchange === exchange else { return }
        self.exchange = nil
        if let upstream = exchange.upstream {
            exchange.upstream = nil
            session.pool.release(upstream, reusable: exchange.requestEnded && exchange.upstreamKeepAlive)
        }
        complete(exchange)
        let close = !isHTTP2 && (closing || !exchange.head.isKeepAlive)
        if let last { context.writeAndFlush(wrapOutboundOut(last), promise: nil) }
        if close { context.close(promise: nil) }
    }

    /// The request is over, however it ended: exactly once, give back what it held (pool
    /// slots, the balancer lease, its timer), end its span, count it and log it.
    func complete(_ exchange: Exchange) {
        guard !exchange.completed else { return }
        exchange.completed = true
        exchange.timer?.cancel()
        exchange.timer = nil
        if let forward = exchange.forward {
            endAttempt(exchange, outcome: nil)
            forward.release()
        }
        if exchange.trace.isExported {
            exchange.trace.end(
                status: exchange.status == 0 ? nil : exchange.status, responseFlags: exchange.flags,
                upstreamCluster: exchange.backend.map { "outbound|\($0.port.port)||\($0.hostname)" },
                route: exchange.forward?.rule.map(\.description))
        }
        record(exchange)
    }

    private func record(_ exchange: Exchange) {
        let backend = exchange.backend
        let report = RequestReport(
            method: exchange.head.method.rawValue, path: exchange.head.uri,
            authority: exchange.head.headers.first(name: "host") ?? "-",
            protocolText: isHTTP2 ? "HTTP/2" : "HTTP/1.1", isGRPC: exchange.isGRPC,
            responseCode: exchange.status, responseFlags: exchange.flags,
            bytesReceived: exchange.bytesReceived, bytesSent: exchange.bytesSent,
            durationNanoseconds: (NIODeadline.now() - exchange.startedAt).nanoseconds,
            upstreamHost: exchange.endpoint?.hostText, requestID: exchange.requestID,
            userAgent: exchange.head.headers.first(name: "user-agent"), source: session.source,
            destinationService: backend?.hostname ?? "unknown", destinationServiceName: backend?.service.metadata.name ?? "unknown",
            destinationServiceNamespace: backend?.service.metadata.namespace ?? "unknown",
            destinationWorkload: exchange.endpoint?.workloadName, destinationWorkloadNamespace: exchange.endpoint?.workloadNamespace,
            destinationPrincipal: exchange.endpoint?.identity?.uri)
        session.telemetry.record(report, cache: session.loop.series)
    }
}
