/// Zipkin's B3 propagation (https://github.com/openzipkin/b3-propagation), both forms:
/// the multi-header `x-b3-traceid` / `x-b3-spanid` / `x-b3-parentspanid` / `x-b3-sampled` /
/// `x-b3-flags`, and the single `b3: {traceid}-{spanid}-{sampling}-{parentspanid}` header.
///
/// Istio users still run Zipkin-instrumented apps, so when a request arrives with B3 the
/// waypoint answers in B3 too; W3C is always added alongside. A B3 header may carry only a
/// sampling decision (`b3: 0`, or `x-b3-sampled` alone), which is honoured without ids.

/// B3's three sampling states. Debug implies sampled and asks every hop to keep the span.
public enum B3Sampling: Hashable, Sendable {
    case accept
    case deny
    case debug

    public var sampled: Bool { self != .deny }
}

/// What B3 headers said. `traceID` and `spanID` are both set or both nil.
public struct B3Context: Hashable, Sendable {
    public var traceID: TraceID?
    /// True when the trace id arrived as 16 hex digits; it is sent on in the same width so a
    /// 64-bit-only Zipkin peer keeps recognising it.
    public var traceIDIs64Bit: Bool
    public var spanID: SpanID?
    public var parentSpanID: SpanID?
    public var sampling: B3Sampling?

    public init(
        traceID: TraceID?, traceIDIs64Bit: Bool = false, spanID: SpanID?,
        parentSpanID: SpanID? = nil, sampling: B3Sampling?
    ) {
        self.traceID = traceID
        self.traceIDIs64Bit = traceIDIs64Bit
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.sampling = sampling
    }

    public enum Header {
        public static let traceID = "x-b3-traceid"
        public static let spanID = "x-b3-spanid"
        public static let parentSpanID = "x-b3-parentspanid"
        public static let sampled = "x-b3-sampled"
        public static let flags = "x-b3-flags"
        public static let single = "b3"
        public static let multi = [traceID, spanID, parentSpanID, sampled, flags]
    }

    // MARK: - Parsing

    /// Reads the multi-header form; nil when none of its headers is usable. Ids that are
    /// malformed (or only one of trace/span present) are dropped, keeping any sampling state.
    public static func parseMulti(
        traceID: String?, spanID: String?, parentSpanID: String?, sampled: String?, flags: String?
    ) -> B3Context? {
        var sampling: B3Sampling?
        if flags == "1" {
            sampling = .debug
        } else {
            switch sampled {
            case "1", "true": sampling = .accept
            case "0", "false": sampling = .deny
            default: sampling = nil
            }
        }
        var context = B3Context(traceID: nil, spanID: nil, sampling: sampling)
        if let traceText = traceID, let spanText = spanID,
           let (trace, is64Bit) = parseTraceID(traceText), let span = SpanID(hex: spanText) {
            context.traceID = trace
            context.traceIDIs64Bit = is64Bit
            context.spanID = span
            // A malformed parent is not worth losing the trace over; it is not propagated anyway.
            context.parentSpanID = parentSpanID.flatMap { SpanID(hex: $0) }
        }
        guard context.traceID != nil || context.sampling != nil else { return nil }
        return context
    }

    /// Reads the single `b3` header; nil when it is malformed.
    public static func parseSingle(_ value: String) -> B3Context? {
        let fields = value.split(separator: "-", omittingEmptySubsequences: false)
        if fields.count == 1 {
            guard let sampling = parseSingleSampling(fields[0]) else { return nil }
            return B3Context(traceID: nil, spanID: nil, sampling: sampling)
        }
        guard (2...4).contains(fields.count),
              let (trace, is64Bit) = parseTraceID(String(fields[0])),
              let span = SpanID(hex: fields[1].utf8) else { return nil }
        var context = B3Context(traceID: trace, traceIDIs64Bit: is64Bit, spanID: span, sampling: nil)
        if fields.count >= 3 {
            guard let sampling = parseSingleSampling(fields[2]) else { return nil }
            context.sampling = sampling
        }
        if fields.count == 4 {
            guard let parent = SpanID(hex: fields[3].utf8) else { return nil }
            context.parentSpanID = parent
        }
        return context
    }

    private static func parseSingleSampling(_ field: Substring) -> B3Sampling? {
        switch field {
        case "1": .accept
        case "0": .deny
        case "d": .debug
        default: nil
        }
    }

    private static func parseTraceID(_ text: String) -> (TraceID, Bool)? {
        let bytes = Substring(text).utf8
        switch bytes.count {
        case 32:
            return TraceID(hex: bytes).map { ($0, false) }
        case 16:
            guard let low = HexDigits.parse(bytes), low != 0 else { return nil }
            return (TraceID(high: 0, low: low), true)
        default:
            return nil
        }
    }

    // MARK: - Formatting

    /// The trace id as this context's peer expects it (16 digits if it sent 16).
    static func traceIDText(_ traceID: TraceID, as64Bit: Bool) -> String {
        as64Bit && traceID.high == 0 ? HexDigits.format(traceID.low, width: 16) : traceID.hex
    }

    /// The single-header value for a span: `{traceid}-{spanid}-{sampling}[-{parentspanid}]`.
    static func singleValue(
        traceID: TraceID, as64Bit: Bool, spanID: SpanID, sampling: B3Sampling, parentSpanID: SpanID?
    ) -> String {
        let state = switch sampling {
        case .accept: "1"
        case .deny: "0"
        case .debug: "d"
        }
        var value = traceIDText(traceID, as64Bit: as64Bit) + "-" + spanID.hex + "-" + state
        if let parentSpanID { value += "-" + parentSpanID.hex }
        return value
    }
}
