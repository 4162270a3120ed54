import AmbitCore
import NIOCore
import NIOEmbedded
import Testing

@testable import AmbitWaypoint

extension ResiliencePathTests {
    // MARK: - Timeouts

    @Test func aPerTryTimeoutAnswers504UTAndClosesTheAttempt() throws {
        let bench = try Bench(extra: Self.route("timeouts: {backendRequest: 300ms}"))
        let client = try bench.client()
        try Self.send(client, "GET /slow HTTP/1.1\r\nHost: echo\r\n\r\n")
        bench.advance(.milliseconds(299))
        #expect(try Self.drain(client).isEmpty)
        bench.advance(.milliseconds(1))
        let reply = try Self.drain(client)
        #expect(reply.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"), "\(reply)")
        #expect(reply.hasSuffix("upstream request timeout\n"))
        #expect(!bench.upstreams[0].isActive, "a timed-out exchange is never reused")
        #expect(bench.log.lines.first?.contains("\"response_flags\":\"UT\"") == true)
        #expect(bench.metric("ambit_waypoint_upstream_rq_timeout_total") == 1)
    }

    @Test func perTryTimeoutsAreRetriedUntilTheRequestTimeoutEndsItAll() throws {
        let bench = try Bench(
            extra: Self.route("timeouts: {request: 1s, backendRequest: 300ms}\nretry: {codes: [504], attempts: 10, backoff: 1ms}"))
        let client = try bench.client()
        try Self.send(client, "GET /slow HTTP/1.1\r\nHost: echo\r\n\r\n")
        for _ in 0..<100 { bench.advance(.milliseconds(10)) }
        let reply = try Self.drain(client)
        #expect(reply.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"), "\(reply)")
        #expect(bench.upstreams.count == 4, "attempts at 0, ~300, ~600, ~900 ms; the request deadline ends the fourth")
        #expect(bench.upstreams.allSatisfy { !$0.isActive })
        #expect(bench.log.lines.count == 1)
        #expect(bench.log.lines.first?.contains("\"response_flags\":\"UT\"") == true)
    }

    // MARK: - Connection-pool limits

    @Test func overflowingThePoolAnswers503UOAtOnce() throws {
        let bench = try Bench(
            extra: """
                kind: DestinationRule
                metadata: {name: echo, namespace: ns1}
                spec:
                  host: echo
                  trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}}
                """)
        let clients = try (0..<3).map { _ in try bench.client() }
        for client in clients { try Self.send(client, "GET / HTTP/1.1\r\nHost: echo\r\n\r\n") }
        let third = try Self.drain(clients[2])
        #expect(third.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "one connection and one pending request are allowed: \(third)")
        #expect(third.lowercased().contains("x-envoy-overloaded: true"))
        #expect(bench.upstreams.count == 2)
        #expect(bench.log.lines.first?.contains("\"response_flags\":\"UO\"") == true)
        #expect(bench.metric("ambit_waypoint_upstream_rq_overflow_total") == 1)
        // A finished request gives its slot back.
        try Self.answer(bench.upstreams[0], "200 OK")
        try Self.send(clients[0], "GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        #expect(try Self.drain(clients[0]).hasPrefix("HTTP/1.1 200 OK"))
        #expect(try Self.drain(clients[0]).isEmpty, "admitted, waiting for the upstream")
    }

    // MARK: - Outlier detection

    @Test func aFailingHostIsEjectedAndComesBackAfterItsEjectionTime() throws {
        let bench = try Bench(
            endpoints: ["10.0.0.5", "10.0.0.6"],
            extra: """
                kind: DestinationRule
                metadata: {name: echo, namespace: ns1}
                spec:
                  host: echo
                  trafficPolicy:
                    loadBalancer: {simple: ROUND_ROBIN}
                    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 5s, maxEjectionPercent: 100}
                """)
        let client = try bench.client()
        /// Sends one request, answers it (500 from 10.0.0.5, 200 from 10.0.0.6) and says where it went.
        func request() throws -> String {
            try Self.send(client, "GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
            let endpoint = try #require(bench.connector.endpoints.last)
            let upstream = try #require(bench.upstreams.last)
            try Self.answer(upstream, endpoint.hasPrefix("10.0.0.5") ? "500 Internal Server Error" : "200 OK", close: true)
            _ = try Self.drain(client)
            return endpoint
        }
        let before = try (0..<4).map { _ in try request() }
        #expect(Set(before) == ["10.0.0.5:8080", "10.0.0.6:8080"], "round robin uses both while healthy")
        let during = try (0..<6).map { _ in try request() }
        #expect(Set(during) == ["10.0.0.6:8080"], "two 500s in a row eject 10.0.0.5")
        #expect(bench.metric("ambit_waypoint_outlier_ejections_total") == 1)
        bench.advance(.seconds(5))
        let after = try (0..<2).map { _ in try request() }
        #expect(after.contains("10.0.0.5:8080"), "the host is back after its ejection time")
    }

    // MARK: - Load balancing

    @Test func aConsistentHashKeepsAUserOnOneEndpointAndSetsItsCookie() throws {
        let bench = try Bench(
            endpoints: ["10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"],
            extra: """
                kind: DestinationRule
                metadata: {name: echo, namespace: ns1}
                spec:
                  host: echo
                  trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 60s}}}}
                """)
        let client = try bench.client()
        try Self.send(client, "GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        try Self.answer(bench.upstreams[0], "200 OK", close: true)
        let first = try Self.drain(client)
        let cookie = try #require(
            first.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: session=") }, "a generated cookie: \(first)")
        #expect(cookie.contains("Max-Age=60"))
        let value = cookie.dropFirst("set-cookie: ".count).split(separator: ";")[0]
        for _ in 0..<8 {
            try Self.send(client, "GET / HTTP/1.1\r\nHost: echo\r\nCookie: \(value)\r\n\r\n")
            try Self.answer(try #require(bench.upstreams.last), "200 OK", close: true)
            #expect(!(try Self.drain(client)).lowercased().contains("set-cookie"))
        }
        #expect(Set(bench.connector.endpoints).count == 1, "every request with the cookie lands where the first did: \(bench.connector.endpoints)")
    }

    // MARK: - Fault delay and mirroring

    @Test func aFaultDelayHoldsTheRequestOnTheLoop() throws {
        let bench = try Bench(
            extra: """
                kind: HTTPFault
                metadata: {name: slow, namespace: ns1}
                spec: {delay: {percentage: {value: 100}, fixedDelay: 2s}}
                ---
                \(Self.route("filters: [{type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: slow}}]"))
                """)
        let client = try bench.client()
        try Self.send(client, "GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        bench.advance(.milliseconds(1999))
        #expect(bench.upstreams.isEmpty)
        bench.advance(.milliseconds(1))
        #expect(bench.upstreams.count == 1)
        try Self.answer(bench.upstreams[0], "200 OK")
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func aMirrorGetsACopyWhoseAnswerIsDropped() throws {
        let bench = try Bench(
            extra: """
                kind: Service
                metadata: {name: echo-v2, namespace: ns1}
                spec: {selector: {app: echo-v2}, addresses: [10.96.0.12], ports: [{port: 80, targetPort: 9090}]}
                ---
                kind: Workload
                metadata: {name: echo-v2-0, namespace: ns1, labels: {app: echo-v2}}
                spec: {serviceAccount: echo, node: node1, addresses: [10.0.0.7]}
                ---
                \(Self.route("filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo-v2, port: 80}}}]"))
                """)
        let client = try bench.client()
        try Self.send(client, "POST /m HTTP/1.1\r\nHost: echo\r\nContent-Length: 4\r\n\r\nbody")
        #expect(Set(bench.connector.endpoints) == ["10.0.0.5:8080", "10.0.0.7:9090"])
        let mirrorIndex = try #require(bench.connector.endpoints.firstIndex(of: "10.0.0.7:9090"))
        let mirror = bench.upstreams[mirrorIndex]
        let main = bench.upstreams[1 - mirrorIndex]
        let copy = try Self.drain(mirror)
        #expect(copy.lowercased().contains("host: echo-shadow\r\n"), "\(copy)")
        #expect(copy.hasSuffix("\r\n\r\nbody"))
        try Self.answer(mirror, "500 Internal Server Error")
        #expect(try Self.drain(client).isEmpty, "the mirror's answer goes nowhere")
        try Self.answer(main, "200 OK")
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 200 OK"))
    }
}

extension ResiliencePathTests {
    // MARK: - Tracing

    @Test func theWaypointsSpanJoinsTheTraceAndBecomesTheUpstreamsParent() throws {
        let sink = RecordingSpanSink()
        let tracer = RequestTracer(sink: sink, sampler: TraceSampler(rate: 0), random: SeededTraceRandom(seed: 7))
        let bench = try Bench(extra: "", tracer: tracer)
        let client = try bench.client()
        let caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        try Self.send(client, "GET /traced HTTP/1.1\r\nHost: echo\r\ntraceparent: \(caller)\r\n\r\n")
        let forwarded = try Self.drain(bench.upstreams[0]).lowercased()
        let span = try #require(sink.recorded.first, "the caller sampled the trace, so the waypoint records a span")
        #expect(span.start.parent?.parentID.hex == "b7ad6b7169203331")
        #expect(
            forwarded.contains("traceparent: 00-0af7651916cd43dd8448eb211c80319c-\(span.spanID.hex)-01\r\n"),
            "the upstream's parent is the waypoint's span: \(forwarded)")
        try Self.answer(bench.upstreams[0], "200 OK")
        _ = try Self.drain(client)
        let finish = try #require(sink.recorded.first?.finishes.first, "the span ends with the response")
        #expect(finish.attributes["http.response.status_code"] == .int(200))
        #expect(finish.attributes["upstream_cluster"] == .string("outbound|80||echo.ns1.svc.cluster.local"))

        // Not sampled by the caller, rate 0: no span, but the trace id still passes on.
        try Self.send(client, "GET /quiet HTTP/1.1\r\nHost: echo\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00\r\n\r\n")
        #expect(sink.recorded.count == 1)
    }
}
