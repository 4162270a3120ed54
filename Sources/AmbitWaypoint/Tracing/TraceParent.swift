/// The W3C Trace Context `traceparent` header (https://www.w3.org/TR/trace-context/):
/// `version-traceid-parentid-flags`, e.g. `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`.
///
/// Parsing is strict because a malformed value must be dropped rather than half-believed:
/// the waypoint then starts a new trace instead of joining a garbled one. What the spec
/// requires is enforced: lower-case hex only, exact field widths, version `ff` and all-zero
/// ids rejected. A version above 00 is read by its first four fields (the spec's forward
/// compatibility rule) and re-emitted as version 00, the only one this proxy speaks.
public struct TraceParent: Hashable, Sendable, CustomStringConvertible {
    public var traceID: TraceID
    /// The id of the span that sent the request (the caller's span).
    public var parentID: SpanID
    public var flags: UInt8

    public init(traceID: TraceID, parentID: SpanID, flags: UInt8) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    public init(traceID: TraceID, parentID: SpanID, sampled: Bool) {
        self.init(traceID: traceID, parentID: parentID, flags: sampled ? Self.sampledFlag : 0)
    }

    public static let sampledFlag: UInt8 = 0x01
    public static let headerName = "traceparent"
    public static let stateHeaderName = "tracestate"

    /// The caller's sampling decision: W3C has no "undecided", flag 0 means not sampled.
    public var sampled: Bool { flags & Self.sampledFlag != 0 }

    /// The header value, always version 00.
    public var headerValue: String {
        "00-" + traceID.hex + "-" + parentID.hex + "-" + HexDigits.format(UInt64(flags), width: 2)
    }

    public var description: String { headerValue }

    /// Parses one `traceparent` value; nil if it is malformed in any way.
    public init?(parsing value: some StringProtocol) {
        var text = Substring(value)
        // The header's optional whitespace is not part of the value.
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        let bytes = text.utf8
        guard bytes.count >= 55 else { return nil }
        let start = bytes.startIndex
        func at(_ offset: Int) -> Substring.UTF8View.Index { bytes.index(start, offsetBy: offset) }

        guard let version = HexDigits.parse(bytes[at(0)..<at(2)]), version != 0xff else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55 {
            // A future version may append fields, but only after another dash.
            guard bytes[at(55)] == UInt8(ascii: "-") else { return nil }
        }
        let dash = UInt8(ascii: "-")
        guard bytes[at(2)] == dash, bytes[at(35)] == dash, bytes[at(52)] == dash else { return nil }
        guard let traceID = TraceID(hex: bytes[at(3)..<at(35)]),
              let parentID = SpanID(hex: bytes[at(36)..<at(52)]),
              let flags = HexDigits.parse(bytes[at(53)..<at(55)]) else { return nil }
        self.init(traceID: traceID, parentID: parentID, flags: UInt8(flags))
    }
}
