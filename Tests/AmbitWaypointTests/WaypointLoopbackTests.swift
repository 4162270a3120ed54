import AmbitAPI
import AmbitCore
import AmbitIdentity
import AmbitTelemetry
import AmbitTesting
import AmbitTunnel
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import AmbitWaypoint

/// The waypoint in one process over loopback, with real TLS and HTTP/2 both ways:
///
///     client ─HBONE (as ns1/client, :authority 10.96.0.10:80)─▶ waypoint
///            ─HBONE (as ns1/waypoint, :authority 127.0.0.1:<app>)─▶ endpoint's HBONE server ─▶ HTTP app
@Suite(.timeLimit(.minutes(2)), .serialized)
struct WaypointLoopbackTests {
    final class Mesh {
        let pki: TestPKI
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let app: TestHTTPServer
        let endpoint: HBONEServer
        let endpointPeers = NIOLockedValueBox<[String]>([])
        let waypoint: WaypointDaemon
        let log = MemoryAccessLogSink()
        let client: HBONEClient
        let source: StaticConfigSource

        init(otlpEndpoint: String? = nil) async throws {
            pki = try TestPKI()
            app = try await TestHTTPServer.start(name: "echo-0", group: group)
            let peers = endpointPeers
            endpoint = try await HBONEServer.bind(
                .init(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), identity: pki.id("ns1", "echo")),
                group: group, tls: try await pki.tlsFactory(),
                onRecord: { record in peers.withLockedValue { $0.append(record.peer?.uri ?? "-") } },
                decide: TunnelHarness.forwardToAuthority)
            let snapshot = try WaypointTestMesh.snapshot(endpoints: ["127.0.0.1"], targetPort: app.port)
            var configuration = WaypointDaemon.Configuration(scope: WaypointScope(namespace: "ns1", name: "waypoint"))
            configuration.caDirectory = pki.directory
            configuration.hboneAddress = HostPort(host: "127.0.0.1", port: 0)
            configuration.upstreamHBONEPort = endpoint.localAddress.port!
            configuration.metricsAddress = HostPort(host: "127.0.0.1", port: 0)
            configuration.readinessAddress = HostPort(host: "127.0.0.1", port: 0)
            configuration.adminAddress = HostPort(host: "127.0.0.1", port: 0)
            configuration.plainHTTPAddress = HostPort(host: "127.0.0.1", port: 0)
            configuration.accessLogFormat = .json
            configuration.drainSeconds = 1
            configuration.otlpEndpoint = otlpEndpoint
            configuration.traceSamplePercent = 100
            source = StaticConfigSource(snapshot)
            waypoint = try await WaypointDaemon.make(
                configuration: configuration, source: source, initial: snapshot, group: group, accessLogSink: log)
            client = HBONEClient(group: group, tls: try await pki.tlsFactory())
        }

        /// A local port whose connections are tunnelled to the waypoint as ns1/client.
        func forwarder(to target: HostPort) async throws -> TunnelForwarder {
            try await TunnelForwarder.bind(
                .init(
                    listen: try SocketAddress(ipAddress: "127.0.0.1", port: 0), source: pki.id("ns1", "client"),
                    server: waypoint.hboneAddress, serverIdentities: [pki.id("ns1", "waypoint")], target: target),
                group: group, client: client)
        }

        func shutdown() async {
            await waypoint.shutdown()
            client.shutdown()
            try? await endpoint.close()
            await app.close()
            try? await group.shutdownGracefully()
        }
    }

    static func exchange(port: Int, _ request: String) async throws -> String {
        try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send(request)
            return String(decoding: try socket.readToEnd(), as: UTF8.self)
        }
    }

    @Test func requestsCrossTheWaypointToTheEndpointOverHBONE() async throws {
        let mesh = try await Mesh()
        let forwarder = try await mesh.forwarder(to: HostPort(host: "10.96.0.10", port: 80))
        // Two pipelined requests on one connection: keep-alive through the waypoint.
        let reply = try await Self.exchange(
            port: forwarder.localAddress.port!,
            "GET /one HTTP/1.1\r\nHost: echo\r\nX-Request-Id: rid-1\r\n\r\nPOST /two HTTP/1.1\r\nHost: echo\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(reply)")
        #expect(reply.contains("echo-0 GET /one 0\n"))
        #expect(reply.contains("echo-0 POST /two 3\n"))
        #expect(reply.lowercased().contains("x-seen-request-id: rid-1"), "x-request-id reaches the app")
        #expect(mesh.app.connectionsAccepted == 1, "both requests share one upstream keep-alive stream")
        #expect(mesh.endpointPeers.withLockedValue { $0 }.allSatisfy { $0 == "spiffe://cluster.local/ns/ns1/sa/waypoint" })

        try await waitUntil("two access-log lines") { mesh.log.lines.count >= 2 }
        let first = try #require(mesh.log.lines.first)
        #expect(first.contains("\"source_principal\":\"spiffe://cluster.local/ns/ns1/sa/client\""))
        #expect(first.contains("\"x_request_id\":\"rid-1\""))
        #expect(first.contains("\"upstream_host\":\"127.0.0.1:\(mesh.app.port)\""))
        let metrics = await mesh.waypoint.metricsText
        #expect(metrics.contains("istio_requests_total{reporter=\"waypoint\""))
        #expect(metrics.contains("source_principal=\"spiffe://cluster.local/ns/ns1/sa/client\""))
        #expect(metrics.contains("connection_security_policy=\"mutual_tls\""))
        try? await forwarder.close()
        await mesh.shutdown()
    }

    @Test func aConnectForAServiceTheWaypointDoesNotServeIsRefused() async throws {
        let mesh = try await Mesh()
        let refused = await #expect(throws: TunnelError.self) {
            try await mesh.client.open(
                from: mesh.pki.id("ns1", "client"), to: mesh.waypoint.hboneAddress, expecting: [mesh.pki.id("ns1", "waypoint")],
                head: ConnectHead(authority: HostPort(host: "10.96.0.11", port: 80)), on: mesh.group.any()
            ).get()
        }
        #expect("\(refused.map { "\($0)" } ?? "")".contains("does not use waypoint"))
        #expect(mesh.app.requestsServed == 0)
        await mesh.shutdown()
    }

    @Test func thePlainListenerRunsTheSameRequestPathWithoutHBONE() async throws {
        let mesh = try await Mesh()
        let port = try #require(mesh.waypoint.plainHTTPAddress?.port)
        let reply = try await Self.exchange(port: port, "GET /plain HTTP/1.1\r\nHost: echo.ns1.svc.cluster.local\r\nConnection: close\r\n\r\n")
        #expect(reply.contains("echo-0 GET /plain 0\n"), "\(reply)")
        #expect(mesh.endpointPeers.withLockedValue { $0 }.isEmpty, "plain mode does not tunnel")
        await mesh.shutdown()
    }

    @Test func withTheEndpointDownTheClientGets503UF() async throws {
        let mesh = try await Mesh()
        try await mesh.endpoint.close()
        let forwarder = try await mesh.forwarder(to: HostPort(host: "10.96.0.10", port: 80))
        let reply = try await Self.exchange(
            port: forwarder.localAddress.port!, "GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(reply)")
        try await waitUntil("the access log shows UF") { mesh.log.lines.contains { $0.contains("\"response_flags\":\"UF\"") } }
        try? await forwarder.close()
        await mesh.shutdown()
    }

    @Test func aConfigChangeTakesEffectWithoutARestart() async throws {
        let mesh = try await Mesh()
        let waypoint = mesh.waypoint
        let running = Task { await waypoint.run() }
        let port = try #require(mesh.waypoint.plainHTTPAddress?.port)
        let request = "GET / HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n"
        #expect(try await Self.exchange(port: port, request).hasPrefix("HTTP/1.1 200 OK"))
        // The endpoint leaves the service: new requests find no healthy upstream.
        mesh.source.update(try WaypointTestMesh.snapshot(endpoints: [], targetPort: mesh.app.port))
        try await waitUntil("the new config is in force") {
            (try? await Self.exchange(port: port, request))?.hasPrefix("HTTP/1.1 503 Service Unavailable") == true
        }
        try await waitUntil("the access log shows UH") { mesh.log.lines.contains { $0.contains("\"response_flags\":\"UH\"") } }
        running.cancel()
        await mesh.shutdown()
    }

    @Test func theDaemonExportsItsServerSpanOverOTLP() async throws {
        let receiver = try await OTLPReceiver.start()
        let mesh = try await Mesh(otlpEndpoint: receiver.endpoint)
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let port = try #require(mesh.waypoint.plainHTTPAddress?.port)
        let reply = try await Self.exchange(
            port: port, "GET /traced HTTP/1.1\r\nHost: echo\r\ntraceparent: 00-\(trace)-00f067aa0ba902b7-01\r\nConnection: close\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 200 OK"), "\(reply)")
        // Shutdown flushes the exporter's batch, so the span arrives without waiting out its delay.
        await mesh.shutdown()
        let span = try await receiver.waitForSpan { $0.traceID == trace }
        #expect(span.parentSpanID == "00f067aa0ba902b7")
        #expect(span.serviceName == "waypoint.ns1")
        #expect(span.attributes["http.response.status_code"] == "200")
        await receiver.stop()
    }
}
