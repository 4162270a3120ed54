@testable import AmbitWaypoint
import Testing

@Suite("B3 propagation")
struct B3PropagationTests {
    @Test func multiHeaderWith128BitTraceID() throws {
        let context = try #require(B3Context.parseMulti(
            traceID: clientTrace, spanID: clientSpan, parentSpanID: "1111111111111111", sampled: "1", flags: nil))
        #expect(context.traceID?.hex == clientTrace)
        #expect(context.traceIDIs64Bit == false)
        #expect(context.spanID?.hex == clientSpan)
        #expect(context.parentSpanID?.hex == "1111111111111111")
        #expect(context.sampling == .accept)
    }

    @Test func multiHeaderWith64BitTraceIDIsWidenedAndRemembered() throws {
        let context = try #require(B3Context.parseMulti(
            traceID: "a3ce929d0e0e4736", spanID: clientSpan, parentSpanID: nil, sampled: "0", flags: nil))
        #expect(context.traceID == TraceID(high: 0, low: 0xa3ce_929d_0e0e_4736))
        #expect(context.traceIDIs64Bit)
        #expect(context.sampling == .deny)
        #expect(B3Context.traceIDText(try #require(context.traceID), as64Bit: true) == "a3ce929d0e0e4736")
    }

    @Test func debugFlagImpliesSampled() throws {
        let context = try #require(B3Context.parseMulti(traceID: nil, spanID: nil, parentSpanID: nil, sampled: "0", flags: "1"))
        #expect(context.sampling == .debug)
        #expect(context.sampling?.sampled == true)
        #expect(context.traceID == nil)
    }

    @Test func legacyBooleanSampledValues() {
        #expect(B3Context.parseMulti(traceID: nil, spanID: nil, parentSpanID: nil, sampled: "true", flags: nil)?.sampling == .accept)
        #expect(B3Context.parseMulti(traceID: nil, spanID: nil, parentSpanID: nil, sampled: "false", flags: nil)?.sampling == .deny)
    }

    @Test func malformedIDsAreDroppedButTheDecisionIsKept() throws {
        let context = try #require(B3Context.parseMulti(
            traceID: clientTrace.uppercased(), spanID: clientSpan, parentSpanID: nil, sampled: "1", flags: nil))
        #expect(context.traceID == nil)
        #expect(context.sampling == .accept)
        // A trace id without a span id is no parent either.
        #expect(B3Context.parseMulti(traceID: clientTrace, spanID: nil, parentSpanID: nil, sampled: nil, flags: nil) == nil)
        #expect(B3Context.parseMulti(traceID: clientTrace, spanID: "0000000000000000", parentSpanID: nil, sampled: nil, flags: nil) == nil)
        #expect(B3Context.parseMulti(traceID: "00000000000000000000000000000000", spanID: clientSpan, parentSpanID: nil, sampled: nil, flags: nil) == nil)
        #expect(B3Context.parseMulti(traceID: "abc", spanID: clientSpan, parentSpanID: nil, sampled: nil, flags: nil) == nil)
    }

    @Test func singleHeaderAllForms() throws {
        let full = try #require(B3Context.parseSingle("\(clientTrace)-\(clientSpan)-1-1111111111111111"))
        #expect(full.traceID?.hex == clientTrace)
        #expect(full.spanID?.hex == clientSpan)
        #expect(full.sampling == .accept)
        #expect(full.parentSpanID?.hex == "1111111111111111")

        let idsOnly = try #require(B3Context.parseSingle("a3ce929d0e0e4736-\(clientSpan)"))
        #expect(idsOnly.traceIDIs64Bit)
        #expect(idsOnly.sampling == nil)

        #expect(B3Context.parseSingle("\(clientTrace)-\(clientSpan)-d")?.sampling == .debug)
        #expect(B3Context.parseSingle("0") == B3Context(traceID: nil, spanID: nil, sampling: .deny))
        #expect(B3Context.parseSingle("1")?.sampling == .accept)
        #expect(B3Context.parseSingle("d")?.sampling == .debug)
    }

    @Test(arguments: [
        "", "2", "true", "\(clientTrace)", "\(clientTrace)-", "\(clientTrace)-\(clientSpan)-x",
        "\(clientTrace)-\(clientSpan)-1-zz", "\(clientTrace)-\(clientSpan)-1-\(clientSpan)-extra",
        "\(clientTrace.uppercased())-\(clientSpan)-1", "abc-\(clientSpan)",
    ])
    func singleHeaderRejectsMalformedValues(_ value: String) {
        #expect(B3Context.parseSingle(value) == nil, "accepted \(value)")
    }

    @Test func singleHeaderFormatting() {
        let trace = TraceID(high: 0, low: 0x42)
        #expect(B3Context.singleValue(traceID: trace, as64Bit: true, spanID: SpanID(7), sampling: .debug, parentSpanID: SpanID(1))
            == "0000000000000042-0000000000000007-d-0000000000000001")
        #expect(B3Context.singleValue(traceID: trace, as64Bit: false, spanID: SpanID(7), sampling: .deny, parentSpanID: nil)
            == "00000000000000000000000000000042-0000000000000007-0")
    }
}
