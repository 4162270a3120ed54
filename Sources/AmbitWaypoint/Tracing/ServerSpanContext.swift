import NIOHTTP1

/// The waypoint's own place in a trace: the server span it opens for one request, and the
/// headers that tell the upstream about it.
///
/// The upstream must see the waypoint's span as its parent, so the caller's span id moves
/// to `parentSpanID` and the waypoint's id goes out in every format the request came with
/// (W3C always). That rewrite happens whether or not the span is sampled: an unsampled
/// request still carries its ids and its "not sampled" decision to the next hop.
public struct ServerSpanContext: Hashable, Sendable {
    public var traceID: TraceID
    /// The waypoint's server span.
    public var spanID: SpanID
    /// The caller's span; nil when the waypoint started the trace.
    public var parentSpanID: SpanID?
    public var sampled: Bool
    public var debug: Bool
    public var traceState: String?
    public var requestID: String
    public var formats: TraceFormats
    public var b3TraceIDIs64Bit: Bool

    public init(
        traceID: TraceID, spanID: SpanID, parentSpanID: SpanID?, sampled: Bool, debug: Bool = false,
        traceState: String? = nil, requestID: String, formats: TraceFormats = [.w3c],
        b3TraceIDIs64Bit: Bool = false
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.sampled = sampled
        self.debug = debug
        self.traceState = traceState
        self.requestID = requestID
        self.formats = formats
        self.b3TraceIDIs64Bit = b3TraceIDIs64Bit
    }

    /// Continues `incoming` (or starts a trace with `newTraceID` when it carried none) with
    /// the server span `spanID`.
    public init(
        continuing incoming: IncomingTrace, spanID: SpanID, newTraceID: @autoclosure () -> TraceID,
        sampled: Bool, requestID: @autoclosure () -> String
    ) {
        self.init(
            traceID: incoming.traceID ?? newTraceID(),
            spanID: spanID,
            parentSpanID: incoming.traceID == nil ? nil : incoming.parentSpanID,
            sampled: sampled,
            debug: incoming.debug,
            traceState: incoming.traceState,
            requestID: incoming.requestID ?? requestID(),
            formats: incoming.formats.union(.w3c),
            b3TraceIDIs64Bit: incoming.b3TraceIDIs64Bit
        )
    }

    /// What the upstream sees as its parent.
    public var traceParent: TraceParent {
        TraceParent(traceID: traceID, parentID: spanID, sampled: sampled)
    }

    private var b3Sampling: B3Sampling { debug ? .debug : sampled ? .accept : .deny }

    /// Replaces the request's trace headers with ones naming the waypoint's span.
    public func applyUpstreamHeaders(to headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: TraceParent.headerName, value: traceParent.headerValue)
        headers.remove(name: TraceParent.stateHeaderName)
        if let traceState { headers.add(name: TraceParent.stateHeaderName, value: traceState) }

        if formats.contains(.b3Multi) {
            for name in B3Context.Header.multi { headers.remove(name: name) }
            headers.add(name: B3Context.Header.traceID, value: B3Context.traceIDText(traceID, as64Bit: b3TraceIDIs64Bit))
            headers.add(name: B3Context.Header.spanID, value: spanID.hex)
            if let parentSpanID { headers.add(name: B3Context.Header.parentSpanID, value: parentSpanID.hex) }
            headers.add(name: B3Context.Header.sampled, value: sampled ? "1" : "0")
            if debug { headers.add(name: B3Context.Header.flags, value: "1") }
        }
        if formats.contains(.b3Single) {
            headers.replaceOrAdd(
                name: B3Context.Header.single,
                value: B3Context.singleValue(
                    traceID: traceID, as64Bit: b3TraceIDIs64Bit, spanID: spanID, sampling: b3Sampling,
                    parentSpanID: parentSpanID
                )
            )
        }
        if !headers.contains(name: IncomingTrace.requestIDHeader) || headers.first(name: IncomingTrace.requestIDHeader) == "" {
            headers.replaceOrAdd(name: IncomingTrace.requestIDHeader, value: requestID)
        }
    }
}
