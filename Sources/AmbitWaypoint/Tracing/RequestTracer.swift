import AmbitCore
import NIOHTTP1

/// The proxy's one entry point for tracing: `begin` when a request's head arrives (it
/// rewrites the head's trace headers for the upstream), `end` on the returned trace when the
/// response is done.
///
///     let trace = tracer.begin(&head, sourcePrincipal: peer.identity)
///     ... forward `head` upstream, relay the response ...
///     trace.end(status: 200, responseFlags: "-", upstreamCluster: "outbound|8080||cart.shop")
///
/// Both are synchronous and safe on any event loop; neither waits on I/O. With no sink
/// (`RequestTracer.disabled`, no tracing endpoint configured) `begin` returns at once and
/// leaves the headers alone, so the caller's own trace passes through untouched.
public final class RequestTracer: Sendable {
    public let sampler: TraceSampler
    private let sink: (any ServerSpanSink)?
    private let random: any TraceRandomSource
    private let clock: any WallClock

    /// Tracing off: nothing parsed, nothing rewritten, nothing exported.
    public static let disabled = RequestTracer(sink: nil)

    public init(
        sink: (any ServerSpanSink)?, sampler: TraceSampler = TraceSampler(),
        random: any TraceRandomSource = SystemTraceRandom(), clock: any WallClock = SystemWallClock()
    ) {
        self.sink = sink
        self.sampler = sampler
        self.random = random
        self.clock = clock
    }

    public var isEnabled: Bool { sink != nil }

    /// Joins (or starts) the request's trace with the waypoint's server span, samples it, and
    /// rewrites `head`'s trace headers so the upstream sees that span as its parent.
    /// `authority` defaults to the Host header (HTTP/2's `:authority` arrives as Host).
    public func begin(
        _ head: inout HTTPRequestHead, authority: String? = nil, sourcePrincipal: String? = nil
    ) -> RequestTrace {
        guard let sink else { return RequestTrace() }
        let incoming = IncomingTrace(headers: head.headers)
        let sampled = sampler.shouldSample(incoming, random: random)
        let now = clock.now()
        let requestID = incoming.requestID ?? random.nextRequestID()

        var span: (any ServerSpanHandle)?
        if sampled {
            let details = ServerSpanDetails(head: head, authority: authority, sourcePrincipal: sourcePrincipal)
            span = sink.startServerSpan(
                ServerSpanStart(
                    name: details.spanName,
                    parent: incoming.traceID.flatMap { trace in
                        incoming.parentSpanID.map { TraceParent(traceID: trace, parentID: $0, sampled: true) }
                    },
                    startNanosecondsSinceEpoch: Self.nanoseconds(now),
                    attributes: details.startAttributes(requestID: requestID)
                )
            )
        }

        var context = ServerSpanContext(
            continuing: incoming,
            spanID: span?.spanID ?? random.nextSpanID(),
            newTraceID: random.nextTraceID(),
            sampled: sampled,
            requestID: requestID
        )
        if let span, span.traceID != context.traceID {
            // The exporter started a new trace rather than continuing ours; follow it, since
            // its ids are the ones that will be exported.
            context.traceID = span.traceID
            context.parentSpanID = nil
        }
        context.applyUpstreamHeaders(to: &head.headers)
        return RequestTrace(context: context, span: span, clock: clock)
    }

    /// Whole seconds and the fraction converted apart: `seconds * 1e9` in one go would lose
    /// the sub-microsecond digits a Double near 1.8e9 still holds.
    static func nanoseconds(_ seconds: Double) -> UInt64 {
        guard seconds > 0, seconds.isFinite else { return 0 }
        let whole = seconds.rounded(.down)
        return UInt64(whole) * 1_000_000_000 + UInt64(((seconds - whole) * 1e9).rounded())
    }
}

/// One request's part in a trace, returned by `RequestTracer.begin`.
public struct RequestTrace: Sendable {
    /// The waypoint's span context; nil when tracing is disabled.
    public let context: ServerSpanContext?
    private let span: (any ServerSpanHandle)?
    private let clock: (any WallClock)?

    init(context: ServerSpanContext? = nil, span: (any ServerSpanHandle)? = nil, clock: (any WallClock)? = nil) {
        self.context = context
        self.span = span
        self.clock = clock
    }

    public var isSampled: Bool { context?.sampled ?? false }
    /// True when a span is being recorded for export.
    public var isExported: Bool { span != nil }

    /// Ends the server span. `status` nil means no response was sent (reset, timeout before
    /// headers); that and any 5xx mark the span as an error. Calling it again does nothing;
    /// for an unexported request it costs nothing.
    public func end(status: Int?, responseFlags: String = "-", upstreamCluster: String? = nil, route: String? = nil) {
        guard let span, let clock else { return }
        span.end(
            ServerSpanFinish(
                endNanosecondsSinceEpoch: RequestTracer.nanoseconds(clock.now()),
                attributes: ServerSpanDetails.endAttributes(
                    status: status, responseFlags: responseFlags, upstreamCluster: upstreamCluster, route: route
                ),
                errorDescription: ServerSpanDetails.errorDescription(status: status, responseFlags: responseFlags)
            )
        )
    }
}
