@testable import AmbitWaypoint
import AmbitTesting
import NIOHTTP1
import Testing

@Suite("RequestTracer: joining the trace and rewriting headers")
struct RequestTracerTests {
    let clock = ManualClock(now: 1_800_000_000)

    func tracer(_ sink: (any ServerSpanSink)?, rate: Double = 0.01, seed: UInt64 = 9) -> RequestTracer {
        RequestTracer(sink: sink, sampler: TraceSampler(rate: rate), random: SeededTraceRandom(seed: seed), clock: clock)
    }

    @Test func aSampledW3CRequestGetsTheWaypointSpanAsTheUpstreamsParent() throws {
        let sink = RecordingSpanSink()
        var head = tracingRequestHead([
            ("traceparent", "00-\(clientTrace)-\(clientSpan)-01"), ("tracestate", "congo=t61rcWkgMzE"),
            ("x-request-id", "req-7"),
        ])
        let trace = tracer(sink, rate: 0).begin(&head, sourcePrincipal: "spiffe://cluster.local/ns/shop/sa/web")

        let span = try #require(sink.recorded.first)
        #expect(span.start.parent == TraceParent(parsing: "00-\(clientTrace)-\(clientSpan)-01"))
        #expect(span.start.name == "cart.shop.svc:8080/cart/items")
        #expect(span.start.startNanosecondsSinceEpoch == 1_800_000_000_000_000_000)
        #expect(span.start.attributes["http.request.method"] == .string("GET"))
        #expect(span.start.attributes["url.path"] == .string("/cart/items"))
        #expect(span.start.attributes["server.address"] == .string("cart.shop.svc"))
        #expect(span.start.attributes["server.port"] == .int(8080))
        #expect(span.start.attributes["source.principal"] == .string("spiffe://cluster.local/ns/shop/sa/web"))
        #expect(span.start.attributes["guid:x-request-id"] == .string("req-7"))

        #expect(head.headers["traceparent"] == ["00-\(clientTrace)-\(span.spanID.hex)-01"])
        #expect(head.headers["tracestate"] == ["congo=t61rcWkgMzE"])
        #expect(head.headers["x-request-id"] == ["req-7"])
        #expect(!head.headers.contains(name: "x-b3-traceid"))
        #expect(!head.headers.contains(name: "b3"))
        #expect(trace.isExported && trace.isSampled)
        #expect(trace.context?.parentSpanID?.hex == clientSpan)
    }

    @Test func endRecordsTheOutcomeAndMarks5xxAsAnError() throws {
        let sink = RecordingSpanSink()
        var head = tracingRequestHead([("traceparent", "00-\(clientTrace)-\(clientSpan)-01")])
        let trace = tracer(sink).begin(&head)
        clock.advance(by: 0.25)
        trace.end(status: 503, responseFlags: "UO", upstreamCluster: "outbound|8080||cart.shop.svc.cluster.local", route: "cart")
        trace.end(status: 200)  // a second end is the handle's to ignore; the sink sees both calls here

        let finish = try #require(sink.recorded.first?.finishes.first)
        #expect(finish.endNanosecondsSinceEpoch == 1_800_000_000_250_000_000)
        #expect(finish.attributes["http.response.status_code"] == .int(503))
        #expect(finish.attributes["response_flags"] == .string("UO"))
        #expect(finish.attributes["upstream_cluster"] == .string("outbound|8080||cart.shop.svc.cluster.local"))
        #expect(finish.attributes["http.route"] == .string("cart"))
        #expect(finish.errorDescription == "HTTP 503")
        #expect(ServerSpanDetails.errorDescription(status: 404, responseFlags: "NR") == nil)
        #expect(ServerSpanDetails.errorDescription(status: nil, responseFlags: "DC") != nil)
    }

    @Test func anUnsampledRequestStillPropagatesWithANewSpanID() throws {
        let sink = RecordingSpanSink()
        var head = tracingRequestHead([("traceparent", "00-\(clientTrace)-\(clientSpan)-00")])
        let trace = tracer(sink, rate: 1).begin(&head)
        #expect(sink.recorded.isEmpty)
        let out = try forwardedTraceParent(head)
        #expect(out.traceID.hex == clientTrace)
        #expect(out.parentID.hex != clientSpan)
        #expect(out.parentID == trace.context?.spanID)
        #expect(!out.sampled)
        #expect(!trace.isExported)
        trace.end(status: 200)  // nothing to end, nothing happens
    }

    @Test func b3MultiIsAnsweredInB3AndW3C() throws {
        let sink = RecordingSpanSink()
        var head = tracingRequestHead([
            ("x-b3-traceid", "a3ce929d0e0e4736"), ("x-b3-spanid", clientSpan),
            ("x-b3-parentspanid", "1111111111111111"), ("x-b3-sampled", "1"),
        ])
        _ = tracer(sink, rate: 0).begin(&head)
        let span = try #require(sink.recorded.first)
        #expect(span.start.parent?.traceID == TraceID(high: 0, low: 0xa3ce_929d_0e0e_4736))
        #expect(span.start.parent?.parentID.hex == clientSpan)
        #expect(head.headers["x-b3-traceid"] == ["a3ce929d0e0e4736"])  // 64-bit in, 64-bit out
        #expect(head.headers["x-b3-spanid"] == [span.spanID.hex])
        #expect(head.headers["x-b3-parentspanid"] == [clientSpan])
        #expect(head.headers["x-b3-sampled"] == ["1"])
        #expect(head.headers["traceparent"] == ["00-0000000000000000a3ce929d0e0e4736-\(span.spanID.hex)-01"])
    }

    @Test func b3SingleIsRewrittenInPlace() throws {
        var head = tracingRequestHead([("b3", "\(clientTrace)-\(clientSpan)-0")])
        let trace = tracer(RecordingSpanSink(), rate: 1).begin(&head)
        let span = try #require(trace.context?.spanID)
        #expect(head.headers["b3"] == ["\(clientTrace)-\(span.hex)-0-\(clientSpan)"])
        #expect(head.headers["traceparent"] == ["00-\(clientTrace)-\(span.hex)-00"])
    }

    @Test func b3DebugTravelsOn() throws {
        var head = tracingRequestHead([("x-b3-traceid", clientTrace), ("x-b3-spanid", clientSpan), ("x-b3-flags", "1")])
        let sink = RecordingSpanSink()
        _ = tracer(sink, rate: 0).begin(&head)
        #expect(sink.recorded.count == 1)
        #expect(head.headers["x-b3-flags"] == ["1"])
        #expect(head.headers["x-b3-sampled"] == ["1"])
    }

    @Test func aRequestWithoutATraceStartsOneAndGetsARequestID() throws {
        let sink = RecordingSpanSink()
        var head = tracingRequestHead([])
        let trace = tracer(sink, rate: 1).begin(&head)
        let span = try #require(sink.recorded.first)
        #expect(span.start.parent == nil)
        #expect(head.headers["traceparent"] == ["00-\(span.traceID.hex)-\(span.spanID.hex)-01"])
        #expect(trace.context?.parentSpanID == nil)
        let requestID = try #require(head.headers.first(name: "x-request-id"))
        #expect(requestID.count == 36)
        #expect(span.start.attributes["guid:x-request-id"] == .string(requestID))
    }

    @Test func unsampledRootsUseTheInjectedRandomSource() throws {
        var first = tracingRequestHead([])
        var second = tracingRequestHead([])
        _ = tracer(RecordingSpanSink(), rate: 0, seed: 5).begin(&first)
        _ = tracer(RecordingSpanSink(), rate: 0, seed: 5).begin(&second)
        #expect(first.headers["traceparent"] == second.headers["traceparent"])
        #expect(first.headers["x-request-id"] == second.headers["x-request-id"])
        #expect(first.headers.first(name: "traceparent")?.hasSuffix("-00") == true)
    }

    @Test func aFullSinkStillPropagatesTheSampledDecision() throws {
        var head = tracingRequestHead([("traceparent", "00-\(clientTrace)-\(clientSpan)-01")])
        let trace = tracer(RecordingSpanSink(refuse: true)).begin(&head)
        #expect(!trace.isExported)
        let out = try forwardedTraceParent(head)
        #expect(out.sampled)
        #expect(out.traceID.hex == clientTrace)
        #expect(out.parentID.hex != clientSpan)
    }

    @Test func disabledTracingLeavesHeadersAlone() {
        let headers: [(String, String)] = [("traceparent", "00-\(clientTrace)-\(clientSpan)-01"), ("b3", "0")]
        var head = tracingRequestHead(headers)
        let before = head.headers
        let trace = RequestTracer.disabled.begin(&head)
        #expect(head.headers == before)
        #expect(trace.context == nil)
        #expect(!RequestTracer.disabled.isEnabled)
        trace.end(status: 500)
    }

    @Test func spanNamesLeaveTheQueryOutAndHandleIPv6Authorities() {
        let head = tracingRequestHead([], uri: "/a/b?secret=1", host: "[fd00::1]:9090")
        let details = ServerSpanDetails(head: head, authority: nil, sourcePrincipal: nil)
        #expect(details.spanName == "[fd00::1]:9090/a/b")
        #expect(details.serverAddress.host == "fd00::1")
        #expect(details.serverAddress.port == 9090)
    }
}
