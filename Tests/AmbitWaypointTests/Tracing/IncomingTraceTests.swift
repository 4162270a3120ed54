@testable import AmbitWaypoint
import NIOHTTP1
import Testing

@Suite("Reading a request's trace headers")
struct IncomingTraceTests {
    @Test func w3cWithTraceState() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("traceparent", "00-\(clientTrace)-\(clientSpan)-01"),
            ("tracestate", "congo=t61rcWkgMzE"), ("tracestate", "rojo=00f067aa0ba902b7"),
            ("x-request-id", "req-1"),
        ]))
        #expect(incoming.traceID?.hex == clientTrace)
        #expect(incoming.parentSpanID?.hex == clientSpan)
        #expect(incoming.upstreamSampled == true)
        #expect(incoming.traceState == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        #expect(incoming.formats == [.w3c])
        #expect(incoming.requestID == "req-1")
    }

    @Test func anInvalidTraceparentDropsTraceStateToo() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("traceparent", "00-\(clientTrace)-\(clientSpan)-1"), ("tracestate", "congo=t61rcWkgMzE"),
        ]))
        #expect(incoming.traceID == nil)
        #expect(incoming.traceState == nil)
        #expect(incoming.upstreamSampled == nil)
        #expect(incoming.formats == [.w3c])  // still answered in W3C
    }

    @Test func twoTraceparentHeadersAreAsGoodAsNone() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("traceparent", "00-\(clientTrace)-\(clientSpan)-01"),
            ("traceparent", "00-\(clientTrace)-1111111111111111-01"),
        ]))
        #expect(incoming.traceID == nil)
    }

    @Test func w3cWinsOverB3ButB3IsStillAnswered() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("traceparent", "00-\(clientTrace)-\(clientSpan)-00"),
            ("x-b3-traceid", "11111111111111111111111111111111"), ("x-b3-spanid", "2222222222222222"),
            ("x-b3-sampled", "1"),
        ]))
        #expect(incoming.traceID?.hex == clientTrace)
        #expect(incoming.parentSpanID?.hex == clientSpan)
        #expect(incoming.upstreamSampled == false)
        #expect(incoming.formats == [.w3c, .b3Multi])
    }

    @Test func b3MultiAlone() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("X-B3-TraceId", "a3ce929d0e0e4736"), ("X-B3-SpanId", clientSpan), ("X-B3-Sampled", "0"),
        ]))
        #expect(incoming.traceID == TraceID(high: 0, low: 0xa3ce_929d_0e0e_4736))
        #expect(incoming.b3TraceIDIs64Bit)
        #expect(incoming.parentSpanID?.hex == clientSpan)
        #expect(incoming.upstreamSampled == false)
        #expect(incoming.formats == [.b3Multi])
    }

    @Test func b3SingleWinsOverB3Multi() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("b3", "\(clientTrace)-\(clientSpan)-1"),
            ("x-b3-traceid", "11111111111111111111111111111111"), ("x-b3-spanid", "2222222222222222"),
        ]))
        #expect(incoming.traceID?.hex == clientTrace)
        #expect(incoming.formats == [.b3Single, .b3Multi])
    }

    @Test func aB3DecisionWithoutIDsCounts() {
        #expect(IncomingTrace(headers: HTTPHeaders([("b3", "0")])).upstreamSampled == false)
        #expect(IncomingTrace(headers: HTTPHeaders([("x-b3-sampled", "1")])).upstreamSampled == true)
        #expect(IncomingTrace(headers: HTTPHeaders([("x-b3-sampled", "1")])).traceID == nil)
    }

    @Test func b3DebugOverridesAnUnsampledTraceparent() {
        let incoming = IncomingTrace(headers: HTTPHeaders([
            ("traceparent", "00-\(clientTrace)-\(clientSpan)-00"), ("x-b3-flags", "1"),
        ]))
        #expect(incoming.upstreamSampled == true)
        #expect(incoming.debug)
    }

    @Test func noHeadersLeaveEverythingOpen() {
        let incoming = IncomingTrace(headers: HTTPHeaders([("host", "a")]))
        #expect(incoming == IncomingTrace())
    }
}
