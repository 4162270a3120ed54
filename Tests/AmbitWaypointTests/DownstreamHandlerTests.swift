import AmbitCore
import AmbitTelemetry
import NIOCore
import NIOEmbedded
import Testing

@testable import AmbitWaypoint

/// The request path on `EmbeddedChannel`s: a downstream HTTP/1.1 connection, upstreams
/// made by a fake connector on the same loop. No sockets, no TLS: what is checked is what
/// the handlers do with bytes.
@Suite struct DownstreamHandlerTests {
    /// Hands out embedded channels as upstream connections (or fails, when told to).
    final class EmbeddedConnector: UpstreamConnector, @unchecked Sendable {
        let loop: EmbeddedEventLoop
        var channels: [EmbeddedChannel] = []
        var endpoints: [String] = []
        var failing = false

        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func connect(to endpoint: UpstreamEndpoint, on _: any EventLoop, initialize: @escaping (Channel) throws -> Void)
            -> EventLoopFuture<Channel>
        {
            endpoints.append(endpoint.hostText)
            if failing { return loop.makeFailedFuture(ChannelError.connectTimeout(.seconds(1))) }
            let channel = EmbeddedChannel(loop: loop)
            do {
                try initialize(channel)
                _ = channel.connect(to: endpoint.address)
            } catch {
                return loop.makeFailedFuture(error)
            }
            channels.append(channel)
            return loop.makeSucceededFuture(channel)
        }
    }

    /// One downstream connection through the waypoint's HTTP/1 pipeline.
    struct Rig {
        let loop = EmbeddedEventLoop()
        let connector: EmbeddedConnector
        let downstream: EmbeddedChannel
        let log = MemoryAccessLogSink()
        let telemetry: WaypointTelemetry

        init(endpoints: [String] = ["10.0.0.5", "10.0.0.6"], extra: String = "") throws {
            connector = EmbeddedConnector(loop: loop)
            telemetry = WaypointTelemetry(accessLog: AccessLog(format: .json, sink: log))
            let scope = WaypointScope(namespace: "ns1", name: "waypoint")
            let snapshot = try WaypointTestMesh.snapshot(endpoints: endpoints, extra: extra)
            let state = WaypointLoop(
                loop: loop, config: WaypointConfig(snapshot: snapshot, scope: scope), meshConnector: connector,
                plainConnector: connector)
            guard case .served(let destination) = scope.destination(for: HostPort(host: "10.96.0.10", port: 80), in: snapshot) else {
                throw TestError("echo should be served")
            }
            let client = try SpiffeID(trustDomain: "cluster.local", namespace: "ns1", serviceAccount: "client")
            let session = DownstreamSession(
                source: SourcePeer(principal: client, workload: nil, address: "10.0.0.9:4444", securityPolicy: "mutual_tls"),
                destination: destination, loop: state, telemetry: telemetry, plain: false)
            downstream = EmbeddedChannel(loop: loop)
            try DownstreamPipeline.installHTTP1(session: session, on: downstream)
            _ = downstream.connect(to: try SocketAddress(ipAddress: "10.0.0.9", port: 4444))
        }

        func send(_ text: String) throws { try downstream.writeInbound(ByteBuffer(string: text)) }

        static func drain(_ channel: EmbeddedChannel) throws -> String {
            var text = ""
            while let chunk = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: chunk) }
            return text
        }

        func received() throws -> String { try Self.drain(downstream) }
    }

    struct TestError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    @Test func keepAliveRequestsReuseOneUpstreamConnection() throws {
        let rig = try Rig(endpoints: ["10.0.0.5"])
        try rig.send("GET /a HTTP/1.1\r\nHost: echo\r\nUser-Agent: t\r\nConnection: keep-alive\r\nX-Custom: 1\r\n\r\n")
        let upstream = try #require(rig.connector.channels.first)
        let forwarded = try Rig.drain(upstream)
        #expect(forwarded.hasPrefix("GET /a HTTP/1.1\r\n"), "\(forwarded)")
        #expect(forwarded.lowercased().contains("x-request-id: "), "the waypoint adds a request id")
        #expect(forwarded.lowercased().contains("x-custom: 1"))
        #expect(!forwarded.lowercased().contains("connection: keep-alive"), "hop-by-hop headers stay on their hop")

        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        let first = try rig.received()
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(first)")
        #expect(first.hasSuffix("\r\n\r\nok"))

        // The second request on the same downstream connection reuses the idle upstream.
        try rig.send("POST /b HTTP/1.1\r\nHost: echo\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        #expect(rig.connector.channels.count == 1, "the keep-alive upstream connection is reused")
        let second = try Rig.drain(upstream)
        #expect(second.hasPrefix("POST /b HTTP/1.1\r\n"))
        #expect(second.contains("5\r\nhello\r\n0\r\n\r\n"), "the chunked body is streamed as chunks: \(second)")
        // A chunked response is re-framed for the client, body intact.
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"))
        let reply = try rig.received()
        #expect(reply.hasPrefix("HTTP/1.1 201 Created\r\n"))
        #expect(reply.contains("3\r\nabc\r\n0\r\n\r\n"))
        #expect(rig.downstream.isActive)

        let lines = rig.log.lines
        #expect(lines.count == 2)
        #expect(lines.first?.contains("\"method\":\"GET\"") == true)
        #expect(lines.first?.contains("\"response_code\":200") == true)
        #expect(lines.first?.contains("\"source_principal\":\"spiffe://cluster.local/ns/ns1/sa/client\"") == true)
        #expect(lines.first?.contains("\"upstream_host\":\"10.0.0.5:8080\"") == true)
        #expect(lines.last?.contains("\"bytes_received\":5") == true)
        let metrics = rig.telemetry.registry.exposition()
        #expect(metrics.contains("istio_requests_total{reporter=\"waypoint\""))
        #expect(metrics.contains("response_code=\"201\""))
        #expect(metrics.contains("destination_service=\"echo.ns1.svc.cluster.local\""))
    }

    @Test func connectionCloseEndsTheDownstreamAfterOneRequest() throws {
        let rig = try Rig(endpoints: ["10.0.0.5", "10.0.0.6"])
        for _ in 0..<2 {
            try rig.send("GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
            let upstream = try #require(rig.connector.channels.last)
            try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 204 No Content\r\n\r\n"))
        }
        #expect(rig.connector.endpoints.count == 1, "Connection: close ends the downstream after one request")
    }

    @Test func noEndpointsIs503UH() throws {
        let rig = try Rig(endpoints: [])
        try rig.send("GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        let reply = try rig.received()
        #expect(reply.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(rig.connector.endpoints.isEmpty)
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"UH\"") == true)
    }

    @Test func aFailedUpstreamConnectIs503UF() throws {
        let rig = try Rig()
        rig.connector.failing = true
        try rig.send("GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        let reply = try rig.received()
        #expect(reply.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(reply.contains("upstream connect error"))
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"UF\"") == true)
    }

    @Test func anUpstreamResetMidResponseBreaksTheDownstreamWithUC() throws {
        let rig = try Rig()
        try rig.send("GET /big HTTP/1.1\r\nHost: echo\r\n\r\n")
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
        #expect(try rig.received().hasPrefix("HTTP/1.1 200 OK"))
        try upstream.close().wait()
        #expect(!rig.downstream.isActive, "a truncated response must not look complete: the connection closes")
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"UC\"") == true)
    }

    @Test func anUpstreamThatClosesBeforeAnsweringIs503UC() throws {
        let rig = try Rig()
        try rig.send("GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        let upstream = try #require(rig.connector.channels.first)
        try upstream.close().wait()
        let reply = try rig.received()
        #expect(reply.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(reply)")
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"UC\"") == true)
    }

    @Test func theClientLeavingMidResponseIsDC() throws {
        let rig = try Rig()
        try rig.send("GET / HTTP/1.1\r\nHost: echo\r\n\r\n")
        let upstream = try #require(rig.connector.channels.first)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"))
        try rig.downstream.close().wait()
        #expect(!upstream.isActive, "an abandoned upstream exchange is not reused")
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"DC\"") == true)
    }
}

extension DownstreamHandlerTests {
    @Test func aWebSocketUpgradeBecomesAByteRelayBothWays() throws {
        let rig = try Rig(endpoints: ["10.0.0.5"])
        try rig.send(
            "GET /chat HTTP/1.1\r\nHost: echo\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let upstream = try #require(rig.connector.channels.first)
        let forwarded = try Rig.drain(upstream).lowercased()
        #expect(forwarded.contains("upgrade: websocket"), "the upgrade request keeps its Upgrade headers")
        #expect(forwarded.contains("connection: upgrade"))

        // The server accepts and talks first, in the same packet as the 101.
        try upstream.writeInbound(
            ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nserver-frame"))
        for _ in 0..<4 { rig.loop.run() }  // the switch happens over a few loop ticks
        let toClient = try rig.received()
        #expect(toClient.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(toClient)")
        #expect(toClient.hasSuffix("server-frame"), "bytes behind the 101 are relayed: \(toClient)")

        // From now on bytes pass untouched in both directions.
        try rig.send("client-frame")
        #expect(try Rig.drain(upstream) == "client-frame")
        try upstream.writeInbound(ByteBuffer(string: "\u{81}\u{02}hi"))
        #expect(try rig.received() == "\u{81}\u{02}hi")
        #expect(rig.log.lines.first?.contains("\"response_code\":101") == true)
    }
}

extension DownstreamHandlerTests {
    static let routed = """
        kind: Gateway
        metadata: {name: waypoint, namespace: ns1}
        spec: {gatewayClassName: ambit-waypoint}
        ---
        kind: Service
        metadata: {name: echo-v2, namespace: ns1}
        spec:
          selector: {app: echo-v2}
          addresses: [10.96.0.12]
          ports: [{port: 80, targetPort: 9090}]
        ---
        kind: Workload
        metadata: {name: echo-v2-0, namespace: ns1, labels: {app: echo-v2}}
        spec: {serviceAccount: echo, node: node1, addresses: [10.0.0.7]}
        ---
        kind: HTTPRoute
        metadata: {name: echo, namespace: ns1}
        spec:
          parentRefs: [{kind: Service, name: echo, port: 80}]
          rules:
          - matches: [{headers: [{name: x-version, value: v2}]}]
            filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-route, value: v2}]}}]
            backendRefs: [{name: echo-v2, port: 80}]
          - backendRefs: [{name: echo, port: 80}]
        ---
        kind: AuthorizationPolicy
        metadata: {name: no-admin, namespace: ns1}
        spec:
          targetRefs: [{kind: Service, name: echo}]
          action: DENY
          rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
        """

    @Test func theRouteTableChoosesTheBackendAndItsFiltersApply() throws {
        let rig = try Rig(endpoints: ["10.0.0.5"], extra: Self.routed)
        try rig.send("GET /x HTTP/1.1\r\nHost: echo\r\nX-Version: v2\r\n\r\n")
        #expect(rig.connector.endpoints == ["10.0.0.7:9090"], "a header match sends the request to v2")
        let upstream = try #require(rig.connector.channels.first)
        _ = try Rig.drain(upstream)
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try rig.received().lowercased().contains("x-route: v2"), "the rule's ResponseHeaderModifier applies")
        try rig.send("GET /x HTTP/1.1\r\nHost: echo\r\n\r\n")
        #expect(rig.connector.endpoints.last == "10.0.0.5:8080", "without the header: v1")
    }

    @Test func anL7DenyIs403WithoutTouchingTheUpstream() throws {
        let rig = try Rig(endpoints: ["10.0.0.5"], extra: Self.routed)
        try rig.send("GET /admin/users HTTP/1.1\r\nHost: echo\r\n\r\n")
        let reply = try rig.received()
        #expect(reply.hasPrefix("HTTP/1.1 403 Forbidden\r\n"), "\(reply)")
        #expect(reply.hasSuffix("RBAC: access denied"))
        #expect(rig.connector.endpoints.isEmpty)
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"RBAC\"") == true)
    }

    @Test func aPathNoRouteMatchesIs404NR() throws {
        let rig = try Rig(endpoints: ["10.0.0.5"], extra: """
            kind: Gateway
            metadata: {name: waypoint, namespace: ns1}
            spec: {gatewayClassName: ambit-waypoint}
            ---
            kind: HTTPRoute
            metadata: {name: only-api, namespace: ns1}
            spec:
              parentRefs: [{kind: Service, name: echo, port: 80}]
              rules: [{matches: [{path: {type: PathPrefix, value: /api}}], backendRefs: [{name: echo, port: 80}]}]
            """)
        try rig.send("GET /other HTTP/1.1\r\nHost: echo\r\n\r\n")
        #expect(try rig.received().hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(rig.log.lines.first?.contains("\"response_flags\":\"NR\"") == true)
    }
}
