import NIOHTTP1

/// Which propagation formats a request arrived with. The waypoint answers in each of them
/// (and always in W3C), so a Zipkin-instrumented service downstream keeps its trace.
public struct TraceFormats: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let w3c = TraceFormats(rawValue: 1 << 0)
    public static let b3Multi = TraceFormats(rawValue: 1 << 1)
    public static let b3Single = TraceFormats(rawValue: 1 << 2)
}

/// Everything the request's own headers say about its trace, before the waypoint adds itself.
///
/// Precedence when several formats carry ids: a valid `traceparent`, then `b3`, then the
/// `x-b3-*` headers. The sampling decision comes from the same source as the ids; a B3
/// header that carries only a decision (`b3: 0`) still counts when no ids arrived.
public struct IncomingTrace: Hashable, Sendable {
    /// The caller's trace and span, if any format carried a valid pair.
    public var traceID: TraceID?
    public var parentSpanID: SpanID?
    /// The caller's sampling decision; nil when it left the decision to us.
    public var upstreamSampled: Bool?
    /// B3 debug: sample, and tell the next hop so.
    public var debug: Bool
    /// `tracestate`, passed through verbatim (several headers joined with ","); dropped when
    /// `traceparent` was missing or invalid, as the W3C spec requires.
    public var traceState: String?
    public var formats: TraceFormats
    public var b3TraceIDIs64Bit: Bool
    /// `x-request-id` as the caller sent it.
    public var requestID: String?

    public init(
        traceID: TraceID? = nil, parentSpanID: SpanID? = nil, upstreamSampled: Bool? = nil,
        debug: Bool = false, traceState: String? = nil, formats: TraceFormats = [],
        b3TraceIDIs64Bit: Bool = false, requestID: String? = nil
    ) {
        self.traceID = traceID
        self.parentSpanID = parentSpanID
        self.upstreamSampled = upstreamSampled
        self.debug = debug
        self.traceState = traceState
        self.formats = formats
        self.b3TraceIDIs64Bit = b3TraceIDIs64Bit
        self.requestID = requestID
    }

    public static let requestIDHeader = "x-request-id"

    /// Reads the trace headers of a request.
    public init(headers: HTTPHeaders) {
        self.init()
        requestID = headers.first(name: Self.requestIDHeader).flatMap { $0.isEmpty ? nil : $0 }

        // W3C: a request with more than one traceparent is as good as none.
        let parents = headers[TraceParent.headerName]
        if !parents.isEmpty { formats.insert(.w3c) }
        if parents.count == 1, let parent = TraceParent(parsing: parents[0]) {
            traceID = parent.traceID
            parentSpanID = parent.parentID
            upstreamSampled = parent.sampled
            let states = headers[TraceParent.stateHeaderName].filter { !$0.isEmpty }
            if !states.isEmpty { traceState = states.joined(separator: ",") }
        }

        var b3: [B3Context] = []
        if let single = headers.first(name: B3Context.Header.single) {
            formats.insert(.b3Single)
            if let context = B3Context.parseSingle(single) { b3.append(context) }
        }
        if B3Context.Header.multi.contains(where: { headers.contains(name: $0) }) {
            formats.insert(.b3Multi)
            let multi = B3Context.parseMulti(
                traceID: headers.first(name: B3Context.Header.traceID),
                spanID: headers.first(name: B3Context.Header.spanID),
                parentSpanID: headers.first(name: B3Context.Header.parentSpanID),
                sampled: headers.first(name: B3Context.Header.sampled),
                flags: headers.first(name: B3Context.Header.flags)
            )
            if let multi { b3.append(multi) }
        }
        adopt(b3)
    }

    /// Takes ids and a decision from B3 where W3C left them open.
    private mutating func adopt(_ b3: [B3Context]) {
        if let withIDs = b3.first(where: { $0.traceID != nil }) {
            b3TraceIDIs64Bit = withIDs.traceIDIs64Bit && (traceID == nil || traceID == withIDs.traceID)
            if traceID == nil {
                traceID = withIDs.traceID
                parentSpanID = withIDs.spanID
                upstreamSampled = withIDs.sampling?.sampled
            }
        }
        // Debug is a request to keep this trace everywhere; honour it from any B3 form.
        if b3.contains(where: { $0.sampling == .debug }) {
            debug = true
            upstreamSampled = true
        } else if upstreamSampled == nil {
            upstreamSampled = b3.lazy.compactMap { $0.sampling?.sampled }.first
        }
    }
}
