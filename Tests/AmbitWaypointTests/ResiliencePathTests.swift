import AmbitCore
import AmbitTelemetry
import NIOCore
import NIOEmbedded
import Testing

@testable import AmbitWaypoint

/// Retries, timeouts, pool limits, outlier detection, balancing, tracing, fault delay and
/// mirroring on the real request path, over `EmbeddedChannel`s on an `EmbeddedEventLoop`
/// whose clock the tests move (`advanceTime`): backoffs and ejection times pass without
/// sleeping.
@Suite struct ResiliencePathTests {
    typealias Connector = DownstreamHandlerTests.EmbeddedConnector

    /// One waypoint loop with any number of downstream connections to `echo`.
    final class Bench {
        let loop = EmbeddedEventLoop()
        let connector: Connector
        let log = MemoryAccessLogSink()
        let telemetry: WaypointTelemetry
        let state: WaypointLoop
        let destination: WaypointScope.Destination

        init(endpoints: [String] = ["10.0.0.5"], extra: String, tracer: RequestTracer = .disabled) throws {
            connector = Connector(loop: loop)
            telemetry = WaypointTelemetry(accessLog: AccessLog(format: .json, sink: log), tracer: tracer)
            let scope = WaypointScope(namespace: "ns1", name: "waypoint")
            let snapshot = try WaypointTestMesh.snapshot(endpoints: endpoints, extra: Self.gateway + extra)
            state = WaypointLoop(loop: loop, config: WaypointConfig(snapshot: snapshot, scope: scope), meshConnector: connector, plainConnector: connector)
            guard case .served(let destination) = scope.destination(for: HostPort(host: "10.96.0.10", port: 80), in: snapshot) else {
                throw DownstreamHandlerTests.TestError("echo should be served")
            }
            self.destination = destination
        }

        static let gateway = """
            kind: Gateway
            metadata: {name: waypoint, namespace: ns1}
            spec: {gatewayClassName: ambit-waypoint}
            ---

            """

        func client() throws -> EmbeddedChannel {
            let principal = try SpiffeID(trustDomain: "cluster.local", namespace: "ns1", serviceAccount: "client")
            let session = DownstreamSession(
                source: SourcePeer(principal: principal, workload: nil, address: "10.0.0.9:4444", securityPolicy: "mutual_tls"),
                destination: destination, loop: state, telemetry: telemetry, plain: false)
            let channel = EmbeddedChannel(loop: loop)
            try DownstreamPipeline.installHTTP1(session: session, on: channel)
            _ = channel.connect(to: try SocketAddress(ipAddress: "10.0.0.9", port: 4444))
            return channel
        }

        /// Moves the loop's clock, running every timer that falls due.
        func advance(_ amount: TimeAmount) { loop.advanceTime(by: amount) }

        var upstreams: [EmbeddedChannel] { connector.channels }

        func metric(_ name: String) -> Int {
            let prefix = "\(name){destination_service=\"echo.ns1.svc.cluster.local\"} "
            let line = telemetry.registry.exposition().split(separator: "\n").first { $0.hasPrefix(prefix) }
            return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
        }
    }

    static func route(_ rule: String) -> String {
        """
        kind: HTTPRoute
        metadata: {name: echo, namespace: ns1}
        spec:
          parentRefs: [{kind: Service, name: echo, port: 80}]
          rules:
          - backendRefs: [{name: echo, port: 80}]
        \(rule.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        """
    }

    static func send(_ channel: EmbeddedChannel, _ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }
    static func drain(_ channel: EmbeddedChannel) throws -> String { try DownstreamHandlerTests.Rig.drain(channel) }
    static func answer(_ upstream: EmbeddedChannel, _ status: String, close: Bool = false) throws {
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 \(status)\r\nContent-Length: 2\r\n\(close ? "Connection: close\r\n" : "")\r\nok"))
    }

    // MARK: - Retries

    @Test func aRetryHidesAFailingAttemptAndTheAttemptHeaderCounts() throws {
        let bench = try Bench(extra: Self.route("retry: {codes: [503], attempts: 3, backoff: 10ms}"))
        let client = try bench.client()
        try Self.send(client, "GET /r HTTP/1.1\r\nHost: echo\r\n\r\n")
        let first = try #require(bench.upstreams.first)
        #expect(try Self.drain(first).lowercased().contains("x-envoy-attempt-count: 1\r\n"))
        try Self.answer(first, "503 Service Unavailable")
        #expect(try Self.drain(client).isEmpty, "a retried answer never reaches the client")
        #expect(!first.isActive, "the failed exchange is not reused")

        bench.advance(.milliseconds(10))  // the first retry waits at most one base backoff
        let second = try #require(bench.upstreams.last)
        #expect(bench.upstreams.count == 2)
        #expect(try Self.drain(second).lowercased().contains("x-envoy-attempt-count: 2\r\n"))
        try Self.answer(second, "200 OK")
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(bench.metric("ambit_waypoint_upstream_rq_total") == 2)
        #expect(bench.metric("ambit_waypoint_upstream_rq_retry_total") == 1)
        #expect(bench.log.lines.first?.contains("\"response_flags\":\"-\"") == true)
    }

    @Test func whenRetriesRunOutTheLastAnswerIsForwardedWithURX() throws {
        let bench = try Bench(extra: Self.route("retry: {codes: [500], attempts: 1, backoff: 1ms}"))
        let client = try bench.client()
        try Self.send(client, "PUT /r HTTP/1.1\r\nHost: echo\r\nContent-Length: 3\r\n\r\nabc")
        try Self.answer(bench.upstreams[0], "500 Internal Server Error")
        bench.advance(.milliseconds(1))
        let replay = try Self.drain(bench.upstreams[1])
        #expect(replay.hasSuffix("\r\n\r\nabc"), "the buffered body is sent again: \(replay)")
        try Self.answer(bench.upstreams[1], "500 Internal Server Error")
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
        #expect(bench.log.lines.first?.contains("\"response_flags\":\"URX\"") == true)
        #expect(bench.metric("ambit_waypoint_upstream_rq_retry_limit_exceeded_total") == 1)
    }

    @Test func aPostIsNotRetriedWithoutARetryStanza() throws {
        let bench = try Bench(extra: Self.route("matches: [{path: {type: PathPrefix, value: /}}]"))
        let client = try bench.client()
        try Self.send(client, "POST /order HTTP/1.1\r\nHost: echo\r\nContent-Length: 2\r\n\r\n{}")
        try Self.answer(bench.upstreams[0], "503 Service Unavailable")
        bench.advance(.seconds(1))
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(bench.upstreams.count == 1)
        #expect(bench.metric("ambit_waypoint_upstream_rq_retry_total") == 0)
    }

    @Test func aPostIsNotRetriedAfterAReset() throws {
        let bench = try Bench(extra: Self.route("retry: {codes: [503], attempts: 3, backoff: 1ms}"))
        let client = try bench.client()
        try Self.send(client, "POST /order HTTP/1.1\r\nHost: echo\r\nContent-Length: 2\r\n\r\n{}")
        try bench.upstreams[0].close().wait()
        bench.advance(.seconds(1))
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "the POST may have been applied")
        #expect(bench.upstreams.count == 1)
    }

    @Test func aBodyLargerThanTheReplayBufferIsNotRetried() throws {
        let bench = try Bench(extra: Self.route("retry: {codes: [503], attempts: 3, backoff: 1ms}"))
        let client = try bench.client()
        let body = String(repeating: "x", count: RetryPolicy.maxBufferedBodyBytes + 1)
        try Self.send(client, "PUT /big HTTP/1.1\r\nHost: echo\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        try Self.answer(bench.upstreams[0], "503 Service Unavailable")
        bench.advance(.seconds(1))
        #expect(try Self.drain(client).hasPrefix("HTTP/1.1 503"))
        #expect(bench.upstreams.count == 1)
    }
}
