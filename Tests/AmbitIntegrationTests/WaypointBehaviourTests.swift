import AmbitCore
import AmbitTesting
import Foundation
import Testing

/// Issue 5 item 9: every L7 behaviour of `ambit waypoint`, proven end to end in real
/// namespaces: client pod → node1 daemon → HBONE → waypoint pod → HBONE → node2 daemon →
/// ambit-testapp backends. The backends count what reached them (`/stats`, by status and
/// by `x-envoy-attempt-count`), so each claim is checked where it happens, not only in the
/// waypoint's own account. One shared topology (`WaypointBed`), one Service per behaviour.
@Suite("Waypoint behaviours in a two-node topology", .needsRoot, .serialized, .waypointBed)
struct WaypointBehaviourTests {
    typealias VIP = WaypointBed.VIP

    var bed: WaypointBed {
        get throws { try #require(WaypointBed.current, "the shared waypoint topology was not built") }
    }

    // MARK: - Routing

    @Test("a 90/10 canary split lands within ±3 % over 2000 requests")
    func canarySplit() async throws {
        let bed = try bed
        let result = try await bed.client.load(url: WaypointBed.url(VIP.web, "/canary"), requests: 2000, concurrency: 8)
        #expect(result.statuses == [200: 2000], "\(result)")
        // v3 is an endpoint of `web` too: only the route's backends (web-v1, web-v2) may answer.
        #expect(Set(result.versions.keys).isSubset(of: ["v1", "v2"]), "\(result)")
        let v2 = Double(result.versions["v2", default: 0]) / 2000
        #expect(abs(v2 - 0.10) <= 0.03, "v2 got \(v2 * 100) % of the requests, expected 10 ± 3 %: \(result)")
    }

    @Test("a header routes to v2 (A/B)")
    func headerRoutesToV2() async throws {
        let bed = try bed
        let beta = try await bed.client.load(url: WaypointBed.url(VIP.web, "/ab"), requests: 100, concurrency: 4, headers: ["x-ab": "beta"])
        #expect(beta.statuses == [200: 100] && beta.versions == ["v2": 100], "\(beta)")
        // Another value of the header falls through to the 90/10 rule: mostly v1.
        let other = try await bed.client.load(url: WaypointBed.url(VIP.web, "/ab"), requests: 100, concurrency: 4, headers: ["x-ab": "alpha"])
        #expect(other.statuses == [200: 100] && other.versions["v1", default: 0] >= 70, "\(other)")
    }

    // MARK: - Retries

    @Test("retries hide a backend that fails 50 % of the time; the attempts reach it with x-envoy-attempt-count and are counted in metrics")
    func retriesHideFailures() async throws {
        let bed = try bed
        let before = try await bed.flaky.stats()
        let metricsBefore = try await bed.waypoint.metricSamples()
        // 8 requests per second, one at a time: the backend alternates fail/pass, so nearly
        // every request needs one retry, and 8 retries a second stays under the retry
        // budget's floor (10 a second; 20 % of traffic would not cover a 50 % failure).
        let requests = 24
        let result = try await bed.client.load(url: WaypointBed.url(VIP.flaky, "/retried"), requests: requests, concurrency: 1, rate: 8)
        #expect(result.statuses == [200: requests], "every failure is hidden: \(result)")

        let seen = try await bed.flaky.stats().since(before)
        let retries = seen.requests - requests
        #expect(retries >= requests / 2, "the backend failed half of \(seen.requests) attempts: \(seen)")
        #expect(seen.byStatus[500, default: 0] == retries, "each failure was retried once: \(seen)")
        #expect(seen.byAttempt[1, default: 0] == requests && seen.byAttempt[2, default: 0] == retries,
                "the retries carried x-envoy-attempt-count: 2: \(seen)")

        let metrics = try await bed.waypoint.metricSamples()
        let served = ["destination_service_name": "flaky", "response_code": "200"]
        #expect(metrics.sum("istio_requests_total", where: served) - metricsBefore.sum("istio_requests_total", where: served) == Double(requests))
        // Envoy's cluster stats, per destination service (Telemetry/UpstreamMetrics.swift).
        let flaky = ["destination_service": "flaky.ns1.svc.cluster.local"]
        func grew(_ name: String) -> Double { metrics.sum(name, where: flaky) - metricsBefore.sum(name, where: flaky) }
        #expect(grew("ambit_waypoint_upstream_rq_retry_total") == Double(retries), "retries counted: backend saw \(seen)")
        #expect(grew("ambit_waypoint_upstream_rq_total") == Double(seen.requests), "attempts counted: backend saw \(seen)")
        #expect(grew("ambit_waypoint_upstream_rq_retry_limit_exceeded_total") == 0)
    }

    @Test("a POST is not retried without configuration: exactly one attempt reaches the backend")
    func postIsNotRetried() async throws {
        let bed = try bed
        // `flaky`'s POST rule has no retry stanza (its other rule retries 500 three times).
        var before = try await bed.flaky.stats()
        let post = try await bed.client.httpRequest(
            to: VIP.flaky, method: "POST", path: "/orders", headers: ["x-testapp-status": "500"], body: "{\"item\":1}")
        #expect(post.status == 500, "\(post)")
        var seen = try await bed.flaky.stats().since(before)
        #expect(seen.requests == 1 && seen.byAttempt == [1: 1], "\(seen)")

        // The same failure on a GET is retried by the other rule: 1 + 3 attempts, then URX.
        before = try await bed.flaky.stats()
        let get = try await bed.client.httpRequest(to: VIP.flaky, path: "/orders", headers: ["x-testapp-status": "500"])
        #expect(get.status == 500, "\(get)")
        seen = try await bed.flaky.stats().since(before)
        #expect(seen.requests == 4 && seen.byAttempt == [1: 1, 2: 1, 3: 1, 4: 1], "\(seen)")

        // A service with no route at all: no retries either (no Istio-style default retry).
        let strict = try #require(bed.apps["v2"])
        before = try await strict.stats()
        let bare = try await bed.client.httpRequest(
            to: VIP.strict, method: "POST", path: "/orders", headers: ["x-testapp-status": "503"], body: "x")
        #expect(bare.status == 503, "\(bare)")
        seen = try await strict.stats().since(before)
        #expect(seen.requests == 1, "\(seen)")
    }

    // MARK: - Timeouts

    @Test("the per-try timeout and the overall request timeout both fire: 504, flag UT")
    func timeoutsFire() async throws {
        let bed = try bed
        let backend = try #require(bed.apps["v2"])
        let slow = ["x-testapp-delay-ms": "3000"]

        // backendRequest 200ms, no retry: one attempt, cut at 200 ms.
        let perTry = try await bed.client.httpRequest(to: VIP.slow, path: "/per-try", headers: slow)
        #expect(perTry.status == 504, "\(perTry)")
        #expect(perTry.seconds >= 0.18 && perTry.seconds < 1.0, "the per-try timeout is 200 ms: \(perTry)")

        // request 400ms, no per-try timeout.
        let overall = try await bed.client.httpRequest(to: VIP.slow, path: "/overall", headers: slow)
        #expect(overall.status == 504, "\(overall)")
        #expect(overall.seconds >= 0.38 && overall.seconds < 1.2, "the request timeout is 400 ms: \(overall)")

        // Both: 150 ms tries, retried on 504, until the 700 ms budget of the request runs out.
        let before = try await backend.stats()
        let both = try await bed.client.httpRequest(to: VIP.slow, path: "/retried", headers: slow)
        #expect(both.status == 504, "\(both)")
        // At least three 150 ms tries; never past the 700 ms request timeout by more than the
        // machine's noise. The waypoint may answer a little before 700 ms: when the jittered
        // backoff before the next try would end past the deadline, no try could start, so
        // it answers 504 UT at once rather than waiting for the deadline.
        #expect(both.seconds >= 0.45 && both.seconds < 1.5, "the request timeout (700 ms) covers all tries: \(both)")
        let seen = try await backend.stats().since(before)
        #expect(seen.requests >= 3 && seen.byAttempt[3, default: 0] >= 1, "several 150 ms tries fit in 700 ms: \(seen)")

        try await waitUntil("the waypoint logs the three timeouts with UT") {
            ["/per-try", "/overall", "/retried"].allSatisfy { path in
                !bed.waypoint.accessLog(containing: "\"path\":\"\(path)\"", "\"response_code\":504", "\"response_flags\":\"UT\"").isEmpty
            }
        }
    }

    // MARK: - Circuit breaking

    @Test("pool overflow answers 503 UO at once, with x-envoy-overloaded")
    func poolOverflow() async throws {
        let bed = try bed
        let backend = try #require(bed.apps["v3"])
        let before = try await backend.stats()
        // Six slow requests at once against one request in flight and one waiting.
        async let held = bed.client.load(
            url: WaypointBed.url(VIP.pool, "/hold"), requests: 6, concurrency: 6, headers: ["x-testapp-delay-ms": "1500"])
        try await waitUntil("a held request reaches the backend", timeoutSeconds: 5) {
            try await backend.stats().since(before).requests >= 1
        }
        let overflow = try await bed.client.httpRequest(to: VIP.pool, path: "/one-more", headers: ["x-testapp-delay-ms": "1500"])
        let result = try await held
        #expect(overflow.status == 503 && overflow.header("x-envoy-overloaded") == "true", "\(overflow)")
        #expect(overflow.seconds < 0.5, "an overflow is answered at once, not after the held requests: \(overflow)")
        #expect(result.statuses[503, default: 0] >= 4 && result.statuses[200, default: 0] >= 1, "\(result)")
        #expect(try await backend.stats().since(before).requests <= 2, "only the admitted requests reached the backend")
        let overflows = try await bed.waypoint.metricSamples()
            .sum("ambit_waypoint_upstream_rq_overflow_total", where: ["destination_service": "pool.ns1.svc.cluster.local"])
        #expect(overflows >= Double(result.statuses[503, default: 0] + 1), "overflows counted in metrics")
        try await waitUntil("the waypoint logs UO") {
            !bed.waypoint.accessLog(containing: "\"path\":\"/one-more\"", "\"response_code\":503", "\"response_flags\":\"UO\"").isEmpty
        }
    }

    @Test("a backend returning 500s is ejected, and comes back after its ejection time")
    func outlierEjection() async throws {
        let bed = try bed
        let bad = try #require(bed.outlier["v1"])
        let url = WaypointBed.url(VIP.outlier, "/outlier")

        // Round robin over three hosts: the bad one answers 500 until its third in a row.
        var before = try await bad.stats()
        let first = try await bed.client.load(url: url, requests: 15, concurrency: 1)
        let failed = try await bad.stats().since(before).requests
        #expect(failed >= 3 && failed <= 5, "ejected after its third 500 in a row (or by the next 200 ms sweep): \(failed) reached it")
        #expect(first.statuses[500, default: 0] == failed, "\(first)")

        // While ejected (2 s), nothing reaches it and every answer is good.
        try await Task.sleep(for: .milliseconds(300))
        before = try await bad.stats()
        let ejected = try await bed.client.load(url: url, requests: 15, concurrency: 1)
        #expect(ejected.statuses == [200: 15] && !ejected.versions.keys.contains("v1"), "\(ejected)")
        #expect(try await bad.stats().since(before).requests == 0)

        // After its ejection time it gets requests again.
        try await Task.sleep(for: .milliseconds(2500))
        before = try await bad.stats()
        let back = try await bed.client.load(url: url, requests: 15, concurrency: 1)
        #expect(try await bad.stats().since(before).requests >= 1, "the host came back after 2 s: \(back)")
        let ejections = try await bed.waypoint.metricSamples()
            .sum("ambit_waypoint_outlier_ejections_total", where: ["destination_service": "outlier.ns1.svc.cluster.local"])
        #expect(ejections >= 1, "ejections counted in metrics")
    }

    // MARK: - Load balancing

    @Test("ROUND_ROBIN spreads evenly")
    func roundRobin() async throws {
        let result = try await bed.client.load(url: WaypointBed.url(VIP.roundRobin, "/rr"), requests: 300, concurrency: 3)
        #expect(result.statuses == [200: 300], "\(result)")
        for version in ["v1", "v2", "v3"] {
            #expect((90...110).contains(result.versions[version, default: 0]), "\(version): \(result)")
        }
    }

    @Test("consistent hash on a header sticks each user to one host, and users spread")
    func consistentHash() async throws {
        let bed = try bed
        let users = (1...8).map { "user-\($0)" }
        let results = try await withThrowingTaskGroup(of: (String, LoadResult).self) { group in
            for user in users {
                group.addTask {
                    (user, try await bed.client.load(url: WaypointBed.url(VIP.hash, "/hash"), requests: 20, concurrency: 2, headers: ["x-user": user]))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        var hosts: Set<String> = []
        for (user, result) in results {
            #expect(result.statuses == [200: 20] && result.versions.count == 1, "\(user) moved between hosts: \(result)")
            hosts.formUnion(result.versions.keys)
        }
        #expect(hosts.count >= 2, "eight users all hashed to \(hosts)")
    }

    @Test("LEAST_REQUEST prefers the less loaded hosts")
    func leastRequest() async throws {
        let result = try await bed.client.load(url: WaypointBed.url(VIP.least, "/least"), requests: 300, concurrency: 6)
        #expect(result.statuses == [200: 300], "\(result)")
        // v1 answers after 100 ms, so it always has requests outstanding; round robin would
        // give it a third (100).
        let slow = result.versions["v1", default: 0]
        #expect(slow < 45 && slow < result.versions["v2", default: 0] && slow < result.versions["v3", default: 0], "\(result)")
    }

    @Test("RANDOM spreads roughly evenly")
    func random() async throws {
        let result = try await bed.client.load(url: WaypointBed.url(VIP.random, "/random"), requests: 600, concurrency: 4)
        #expect(result.statuses == [200: 600], "\(result)")
        for version in ["v1", "v2", "v3"] {
            // 200 expected, standard deviation ≈ 11.5: ±60 is five of them.
            #expect((140...260).contains(result.versions[version, default: 0]), "\(version): \(result)")
        }
    }

    // MARK: - Protocols

    @Test("gRPC through the waypoint: a unary call and a bidirectional stream")
    func grpc() async throws {
        let bed = try bed
        let backend = try #require(bed.apps["v1"])
        let before = try await backend.stats()
        let target = "\(VIP.grpc):9090"
        let unary = try await bed.client.grpcCall(target: target, ["--unary", "hello through the waypoint"])
        #expect(unary.succeeded && unary.stdout.contains("unary: \"hello through the waypoint\" from v1 v1"), "\(unary)")
        let stream = try await bed.client.grpcCall(target: target, ["--stream", "5"])
        #expect(stream.succeeded && stream.stdout.contains("stream: 5 of 5 replies"), "\(stream)")
        #expect(try await backend.stats().since(before).grpcCalls == 2)
        try await waitUntil("the waypoint logs both calls as HTTP/2") {
            !bed.waypoint.accessLog(containing: "ambit.testapp.v1.Echo/Echo\"", "\"protocol\":\"HTTP/2\"", "\"response_code\":200").isEmpty
                && !bed.waypoint.accessLog(containing: "ambit.testapp.v1.Echo/EchoStream\"", "\"protocol\":\"HTTP/2\"").isEmpty
        }
    }

    @Test("a WebSocket echo works through the waypoint")
    func webSocket() async throws {
        let bed = try bed
        let backend = bed.webSocket
        let before = try await backend.stats()
        let messages = ["first", "second through the waypoint", String(repeating: "w", count: 300)]
        let replies: [String]
        do {
            replies = try await bed.client.webSocketExchange(to: VIP.ws, messages: messages)
        } catch {
            // Say where the bytes stopped: at the backend, or before it.
            let seen = try await backend.stats().since(before)
            let log = bed.waypoint.accessLog(containing: "\"path\":\"/ws\"")
            throw TestFailure("\(error); the backend saw \(seen), \(seen.websocketMessages) WebSocket messages; waypoint log: \(log)")
        }
        #expect(replies == messages)
        #expect(try await backend.stats().since(before).websocketMessages == messages.count)
    }

    // MARK: - Policy

    @Test("an L7 DENY (on the Service or the whole waypoint) answers 403 and never reaches the backend")
    func l7Deny() async throws {
        let bed = try bed
        let backends = try ["v1", "v2", "v3"].map { try #require(bed.apps[$0]) }
        var before: [TestAppStatsSnapshot] = []
        for app in backends { before.append(try await app.stats()) }

        let admin = try await bed.client.httpRequest(to: VIP.secure, path: "/admin/users")
        #expect(admin.status == 403 && admin.body.contains("RBAC: access denied"), "\(admin)")
        let delete = try await bed.client.httpRequest(to: VIP.secure, method: "DELETE", path: "/items/1")
        #expect(delete.status == 403, "\(delete)")
        let everywhere = try await bed.client.httpRequest(to: VIP.web, path: "/denied-everywhere")
        #expect(everywhere.status == 403, "\(everywhere)")
        let allowed = try await bed.client.httpRequest(to: VIP.secure, path: "/items/1")
        #expect(allowed.status == 200, "\(allowed)")

        var reached = 0
        for (app, earlier) in zip(backends, before) { reached += try await app.stats().since(earlier).requests }
        #expect(reached == 1, "only the allowed request reached a backend")
        try await waitUntil("the waypoint logs the denials") {
            !bed.waypoint.accessLog(containing: "\"path\":\"/admin/users\"", "\"response_code\":403").isEmpty
        }
    }

    // MARK: - Tracing

    @Test("one trace id crosses client → waypoint → server, and the waypoint's span is exported")
    func traceCrossesTheWaypoint() async throws {
        let bed = try bed
        let receiver = try bed.traces.get()
        let traceID = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let clientSpan = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let response = try await bed.client.httpRequest(
            to: VIP.traced, path: "/traced", headers: ["traceparent": "00-\(traceID)-\(clientSpan)-01"])
        #expect(response.status == 200, "\(response)")

        // The server saw the same trace, as a child of the waypoint's span.
        let report = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        let seen = try #require((report?["headers"] as? [String: Any])?["traceparent"] as? String, "\(response)")
        let parts = seen.split(separator: "-").map(String.init)
        #expect(parts.count == 4 && parts[1] == traceID && parts[2] != clientSpan && parts[3] == "01", "the server saw \(seen)")

        let span = try await receiver.waitForSpan(timeout: 15) { $0.traceID == traceID }
        #expect(span.kind == "SPAN_KIND_SERVER" && span.parentSpanID == clientSpan, "\(span)")
        #expect(parts.count == 4 && span.spanID == parts[2], "the server's parent is the waypoint's span: \(span), server saw \(seen)")
    }
}
