// Answers one HTTP request at a time, on the channel's event loop: HTTP/1.1 connections
// directly, HTTP/2 streams through NIO's HTTP/2→HTTP/1 codec, so both speak the same
// code. Admin paths (/healthz, /stats) are never faulted or counted; every other path is
// counted, asked of the fault plan, optionally delayed, and answered with a report of
// what the server saw (or /echo's body, or filler bytes).
import NIOCore
import NIOHTTP1

/// What the server and its connections share: settings, counters, the call pool.
final class TestAppContext: Sendable {
    let configuration: ServeConfiguration
    let stats: TestAppStats
    let random: @Sendable () -> Double
    /// Confined to the server's single event loop, like every connection that uses it.
    let callPool: HTTP1ConnectionPool?
    let filler: ByteBuffer?

    init(configuration: ServeConfiguration, stats: TestAppStats, random: @escaping @Sendable () -> Double, eventLoop: EventLoop) {
        self.configuration = configuration
        self.stats = stats
        self.random = random
        callPool = configuration.calls.isEmpty ? nil : HTTP1ConnectionPool(eventLoop: eventLoop)
        filler = configuration.bodyBytes.map { ByteBuffer(repeating: UInt8(ascii: "a"), count: $0) }
    }
}

/// Response headers the test app sets beyond `x-ambit-name`/`x-ambit-version`.
public enum TestAppHeaders {
    /// On a front's answer (`serve --call`): `NAME/VERSION` of each service instance that
    /// answered its calls, comma-separated, so a client one hop away sees which version of a
    /// backend served it (the quickstart's canary split, counted by `load`).
    public static let upstream = "x-ambit-upstream"
}

/// Headers a front instance passes on to the services it calls, so a trace crosses it.
let propagatedHeaders = [
    "traceparent", "tracestate", "baggage", "x-request-id", "b3",
    "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags",
]

final class TestAppHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let app: TestAppContext
    private let isHTTP2: Bool
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var bodyBytes = 0
    private var tooLarge = false

    init(app: TestAppContext, isHTTP2: Bool) {
        self.app = app
        self.isHTTP2 = isHTTP2
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = nil
            bodyBytes = 0
            tooLarge = false
        case .body(var chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > app.configuration.maxRequestBodyBytes {
                tooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    // MARK: - Routing

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        switch (head.method, path) {
        case (.GET, "/healthz"):
            write(context: context, request: head, status: 200, contentType: "text/plain", body: ByteBuffer(string: "ok\n"))
            return
        case (.GET, "/stats"):
            var json = JSONWriter(allocator: context.channel.allocator)
            app.stats.write(to: &json, name: app.configuration.name, version: app.configuration.version)
            json.buffer.writeStaticString("\n")
            write(context: context, request: head, status: 200, contentType: "application/json", body: json.buffer)
            return
        case (.POST, "/stats/reset"):
            app.stats.reset()
            write(context: context, request: head, status: 200, contentType: "text/plain", body: ByteBuffer(string: "reset\n"))
            return
        default:
            break
        }
        if tooLarge {
            let message = "request body over \(app.configuration.maxRequestBodyBytes) bytes (raise serve --max-body-bytes)\n"
            write(context: context, request: head, status: 413, contentType: "text/plain", body: ByteBuffer(string: message))
            return
        }
        let overrides: RequestOverrides
        do {
            overrides = try Self.overrides(head.headers)
        } catch {
            write(context: context, request: head, status: 400, contentType: "text/plain", body: ByteBuffer(string: "\(error)\n"))
            return
        }
        let index = app.stats.requestReceived(attempt: overrides.attempt)
        let decision = FaultPlan.decide(settings: app.configuration.faults, overrides: overrides, index: index, random: app.random)
        let requestBody = body
        body = nil
        let loop = context.eventLoop.assumeIsolated()
        let answer = { [self] in
            if let pool = app.callPool, decision.status == 200, !path.hasPrefix("/echo") {
                callThenAnswer(context: context, head: head, path: path, index: index, pool: pool)
            } else {
                answerDirectly(context: context, head: head, path: path, index: index, decision: decision, requestBody: requestBody)
            }
        }
        if decision.delayMilliseconds > 0 {
            loop.scheduleTask(in: .milliseconds(decision.delayMilliseconds)) { answer() }
        } else {
            answer()
        }
    }

    private func answerDirectly(
        context: ChannelHandlerContext, head: HTTPRequestHead, path: String, index: Int, decision: FaultDecision, requestBody: ByteBuffer?
    ) {
        let sizeOverride = head.headers.first(name: OverrideHeader.bodyBytes).flatMap { Int($0) }
        if path == "/echo" || path.hasPrefix("/echo/") {
            let type = head.headers.first(name: "content-type") ?? "application/octet-stream"
            write(context: context, request: head, status: decision.status, contentType: type, body: requestBody ?? ByteBuffer(), index: index, injected: decision.injected)
        } else if let size = sizeOverride, size >= 0 {
            let filler = ByteBuffer(repeating: UInt8(ascii: "a"), count: min(size, app.configuration.maxRequestBodyBytes))
            write(context: context, request: head, status: decision.status, contentType: "text/plain", body: filler, index: index, injected: decision.injected)
        } else if let filler = app.filler {
            write(context: context, request: head, status: decision.status, contentType: "text/plain", body: filler, index: index, injected: decision.injected)
        } else {
            let report = report(context: context, head: head, index: index, status: decision.status, injected: decision.injected, calls: nil)
            write(context: context, request: head, status: decision.status, contentType: "application/json", body: report, index: index, injected: decision.injected)
        }
    }

    private func callThenAnswer(context: ChannelHandlerContext, head: HTTPRequestHead, path: String, index: Int, pool: HTTP1ConnectionPool) {
        var forwarded = HTTPHeaders()
        for name in propagatedHeaders {
            for value in head.headers[name] { forwarded.add(name: name, value: value) }
        }
        let loop = context.eventLoop
        let calls = app.configuration.calls.map { url in
            pool.get(url, headers: forwarded)
                .map { Result<ClientResponse, Error>.success($0) }
                .recover { Result<ClientResponse, Error>.failure($0) }
        }
        EventLoopFuture.whenAllComplete(calls, on: loop).assumeIsolated().whenSuccess { [self] results in
            let outcomes = results.map { result -> Result<ClientResponse, Error> in
                switch result {
                case .success(let inner): return inner
                case .failure(let error): return .failure(error)
                }
            }
            let allGood = outcomes.allSatisfy { if case .success(let r) = $0 { return (200..<300).contains(r.status) } else { return false } }
            let status = allGood ? 200 : 502
            let report = report(context: context, head: head, index: index, status: status, injected: false, calls: outcomes)
            let reached = outcomes.compactMap { outcome -> String? in
                guard case .success(let r) = outcome, let name = r.headers.first(name: "x-ambit-name") else { return nil }
                return "\(name)/\(r.headers.first(name: "x-ambit-version") ?? "-")"
            }
            write(
                context: context, request: head, status: status, contentType: "application/json", body: report, index: index, injected: false,
                extraHeaders: reached.isEmpty ? [] : [(TestAppHeaders.upstream, reached.joined(separator: ", "))])
        }
    }

    // MARK: - The report

    private func report(
        context: ChannelHandlerContext, head: HTTPRequestHead, index: Int, status: Int, injected: Bool, calls: [Result<ClientResponse, Error>]?
    ) -> ByteBuffer {
        var json = JSONWriter(allocator: context.channel.allocator)
        json.beginObject()
        json.field("name", app.configuration.name)
        json.field("version", app.configuration.version)
        json.field("request", index + 1)
        json.field("status", status)
        json.field("injected", injected)
        json.field("protocol", isHTTP2 ? "HTTP/2" : "HTTP/\(head.version.major).\(head.version.minor)")
        json.field("method", head.method.rawValue)
        json.field("path", head.uri)
        json.field("body_bytes", bodyBytes)
        json.beginObject("headers")
        for (name, value) in Self.joinedHeaders(head.headers) { json.field(name, value) }
        json.endObject()
        if let calls {
            json.beginArray("calls")
            for (url, outcome) in zip(app.configuration.calls, calls) {
                json.beginObject()
                json.field("url", url.description)
                switch outcome {
                case .success(let response):
                    json.field("status", response.status)
                    if let body = response.body, body.readableBytesView.first == UInt8(ascii: "{") {
                        var trimmed = body
                        while trimmed.readableBytesView.last == UInt8(ascii: "\n") { trimmed.moveWriterIndex(to: trimmed.writerIndex - 1) }
                        json.rawField("response", trimmed)
                    } else {
                        json.field("response", response.body.map { String(buffer: $0) } ?? "")
                    }
                case .failure(let error):
                    json.field("status", 0)
                    json.field("error", "\(error)")
                }
                json.endObject()
            }
            json.endArray()
        }
        json.endObject()
        json.buffer.writeStaticString("\n")
        return json.buffer
    }

    /// Lower-case names, repeated headers joined with ", ", in first-seen order.
    static func joinedHeaders(_ headers: HTTPHeaders) -> [(String, String)] {
        var out: [(String, String)] = []
        out.reserveCapacity(headers.count)
        for (name, value) in headers {
            let lower = name.lowercased()
            if let i = out.firstIndex(where: { $0.0 == lower }) { out[i].1 += ", " + value } else { out.append((lower, value)) }
        }
        return out
    }

    static func overrides(_ headers: HTTPHeaders) throws -> RequestOverrides {
        func number(_ name: String, _ range: ClosedRange<Int64>) throws -> Int64? {
            guard let text = headers.first(name: name) else { return nil }
            guard let n = Int64(text.trimmingSpaces), range.contains(n) else {
                throw TestAppError("header \(name): '\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        // RFC 9112 §3.2: a request with more than one Host is rejected; a proxy test that
        // doubles Host must see it fail here rather than pass by accident.
        if headers["host"].count > 1 { throw TestAppError("the request has \(headers["host"].count) Host headers; send one") }
        var overrides = RequestOverrides()
        overrides.status = try number(OverrideHeader.status, 100...599).map(Int.init)
        overrides.delayMilliseconds = try number(OverrideHeader.delayMilliseconds, 0...600_000)
        overrides.failAttempts = try number(OverrideHeader.failAttempts, 0...1_000).map(Int.init)
        // A proxy's attempt header is informative, not a test's order: tolerate garbage.
        overrides.attempt = headers.first(name: OverrideHeader.attemptCount).flatMap { Int($0.trimmingSpaces) } ?? 1
        return overrides
    }

    // MARK: - Writing

    private func write(
        context: ChannelHandlerContext, request: HTTPRequestHead, status: Int, contentType: String, body: ByteBuffer,
        index: Int? = nil, injected: Bool = false, extraHeaders: [(String, String)] = []
    ) {
        var headers = HTTPHeaders()
        headers.reserveCapacity(6)
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "x-ambit-name", value: app.configuration.name)
        headers.add(name: "x-ambit-version", value: app.configuration.version)
        if let index { headers.add(name: "x-testapp-request", value: String(index + 1)) }
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        let keepAlive = isHTTP2 || request.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: isHTTP2 ? .http2 : request.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
        if index != nil { app.stats.responded(status: status, injected: injected) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
