import AmbitCore
import Testing

@testable import AmbitWaypoint

@Suite struct WaypointScopeTests {
    let scope = WaypointScope(namespace: "ns1", name: "waypoint")

    @Test func aServiceThatUsesTheWaypointIsServedWithItsPort() throws {
        let snapshot = try WaypointTestMesh.snapshot(appProtocol: "grpc")
        guard case .served(let destination) = scope.destination(for: HostPort(host: "10.96.0.10", port: 80), in: snapshot) else {
            Issue.record("echo uses the waypoint and should be served")
            return
        }
        #expect(destination.service.metadata.key == "ns1/echo")
        #expect(destination.port.targetPort == 8080)
        #expect(destination.tunnelProtocol == .http2)
    }

    @Test func otherTrafficIsRefused() throws {
        let snapshot = try WaypointTestMesh.snapshot()
        guard case .notServed(let reason) = scope.destination(for: HostPort(host: "10.96.0.11", port: 80), in: snapshot) else {
            Issue.record("a service without use-waypoint is not ours")
            return
        }
        #expect(reason.contains("does not use waypoint ns1/waypoint"))
        guard case .unknown = scope.destination(for: HostPort(host: "10.96.0.99", port: 80), in: snapshot) else {
            Issue.record("an unknown address is unknown")
            return
        }
        guard case .unknown = scope.destination(for: HostPort(host: "10.96.0.10", port: 81), in: snapshot) else {
            Issue.record("a port the service lacks is unknown")
            return
        }
        guard case .notServed = scope.destination(for: HostPort(host: "echo.ns1", port: 80), in: snapshot) else {
            Issue.record("a hostname authority is not a VIP")
            return
        }
    }

    @Test func aWaypointOfAnotherNamespaceDoesNotServeIt() throws {
        let snapshot = try WaypointTestMesh.snapshot()
        let elsewhere = WaypointScope(namespace: "ns2", name: "waypoint")
        guard case .notServed = elsewhere.destination(for: HostPort(host: "10.96.0.10", port: 80), in: snapshot) else {
            Issue.record("use-waypoint names a Gateway in the service's own namespace")
            return
        }
    }

    @Test func appProtocolChoosesHowTheStreamIsRead() {
        #expect(TunnelProtocol(appProtocol: nil) == .detect)
        #expect(TunnelProtocol(appProtocol: "http") == .http)
        #expect(TunnelProtocol(appProtocol: "HTTP2") == .http2)
        #expect(TunnelProtocol(appProtocol: "grpc") == .http2)
        #expect(TunnelProtocol(appProtocol: "kubernetes.io/h2c") == .http2)
        #expect(TunnelProtocol(appProtocol: "tcp") == .tcp)
        #expect(TunnelProtocol(appProtocol: "mysql") == .tcp)
    }

    @Test func theIdentityIsTheGatewayNameAsServiceAccount() throws {
        #expect(try scope.identity(trustDomain: "cluster.local").uri == "spiffe://cluster.local/ns/ns1/sa/waypoint")
    }

    @Test func requestIDsAreUUIDShapedAndDistinct() {
        var generator = RequestIDGenerator(seed: 42)
        let a = generator.next()
        let b = generator.next()
        #expect(a.count == 36 && b.count == 36 && a != b)
        #expect(Array(a)[14] == "4", "version nibble of a random UUID")
        #expect(a.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
    }
}
