import AmbitCore
import Testing

@testable import AmbitNode

/// Where the 15001 listener sends a connection, decided from the snapshot alone: a mesh
/// pod gets HBONE, a service VIP gets one of its endpoints (or its waypoint), anything
/// else passes through, and traffic meant for a waypoint never bypasses it.
@Suite("Outbound routing")
struct OutboundRouteTests {
    static let mesh = """
        kind: Namespace
        metadata: {name: shop, labels: {ambit.dev/dataplane-mode: ambient}}
        ---
        kind: Namespace
        metadata: {name: legacy}
        ---
        kind: Workload
        metadata: {name: web-a, namespace: shop, labels: {app: web}}
        spec: {serviceAccount: web, node: n1, addresses: [10.0.0.1]}
        ---
        kind: Workload
        metadata: {name: web-b, namespace: shop, labels: {app: web}}
        spec: {serviceAccount: web, node: n2, addresses: ["fd00::2", 10.0.0.2]}
        ---
        kind: Workload
        metadata: {name: old, namespace: legacy, labels: {app: old}}
        spec: {node: n1, addresses: [10.0.1.1]}
        ---
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {selector: {app: web}, addresses: [10.96.0.1], ports: [{port: 80, targetPort: 8080}, {port: 443}]}
        ---
        kind: Service
        metadata: {name: old, namespace: legacy}
        spec: {selector: {app: old}, addresses: [10.96.0.2], ports: [{port: 80, targetPort: 8000}]}
        ---
        kind: Service
        metadata: {name: empty, namespace: shop}
        spec: {selector: {app: nobody}, addresses: [10.96.0.3], ports: [{port: 80}]}

        """

    static let waypoint = """
        ---
        kind: Workload
        metadata: {name: shop-waypoint-x1, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: shop-waypoint}}
        spec: {serviceAccount: waypoint, node: n3, addresses: [10.0.0.9]}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop, labels: {ambit.dev/use-waypoint: shop-waypoint}}
        spec: {selector: {app: web}, addresses: [10.96.0.4], ports: [{port: 80, targetPort: 8080}]}
        ---
        kind: Service
        metadata: {name: pay, namespace: shop, labels: {ambit.dev/use-waypoint: gone}}
        spec: {selector: {app: web}, addresses: [10.96.0.5], ports: [{port: 80}]}
        """

    static let snapshot = try! MeshSnapshot(ResourceDecoder.decodeFile(mesh + waypoint, file: "test"))

    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    static func id(_ ns: String, _ sa: String) -> SpiffeID { try! SpiffeID(trustDomain: "cluster.local", namespace: ns, serviceAccount: sa) }

    static func decide(_ address: String, _ port: Int, pick: (String, Int) -> Int = { _, _ in 0 }) -> OutboundRoute {
        OutboundRoute.decide(ip: ip(address), port: port, snapshot: snapshot, pick: pick)
    }

    static func tunnel(_ route: OutboundRoute) -> OutboundRoute.Tunnel? {
        if case .tunnel(let t) = route { return t }
        return nil
    }

    // MARK: - Workload addresses

    @Test("a mesh workload's address is tunnelled to its HBONE port, expecting its identity")
    func workloadInMesh() throws {
        let t = try #require(Self.tunnel(Self.decide("10.0.0.1", 8080)))
        #expect(t.address == Self.ip("10.0.0.1"))
        #expect(t.authority == HostPort(host: "10.0.0.1", port: 8080))
        #expect(t.expected == Self.id("shop", "web"))
        #expect(t.destinationWorkload?.metadata.name == "web-a")
        #expect(t.service == nil && !t.viaWaypoint)
        #expect(OutboundRoute.hbonePort == 15008)
    }

    @Test("a workload's second address is tunnelled to that address, IPv6 authority in brackets")
    func secondAddress() throws {
        let t = try #require(Self.tunnel(Self.decide("fd00::2", 8080)))
        #expect(t.address == Self.ip("fd00::2"))
        #expect(t.authority.description == "[fd00::2]:8080")
        #expect(t.destinationWorkload?.metadata.name == "web-b")
    }

    @Test("a workload that is not in the mesh gets its bytes passed through untouched")
    func workloadNotEnrolled() {
        #expect(Self.decide("10.0.1.1", 5432) == .passthrough(ip: Self.ip("10.0.1.1"), port: 5432))
    }

    @Test("an address the mesh does not know passes through")
    func unknownAddress() {
        #expect(Self.decide("93.184.216.34", 443) == .passthrough(ip: Self.ip("93.184.216.34"), port: 443))
    }

    // MARK: - Service VIPs

    @Test("a VIP goes to the endpoint `pick` chooses, on the target port, round robin")
    func vipRoundRobin() throws {
        let robin = RoundRobin()
        var keys: [String] = []
        var chosen: [String] = []
        for _ in 0..<4 {
            let route = Self.decide("10.96.0.1", 80) { key, count in
                keys.append("\(key) of \(count)")
                return robin.next(key, count)
            }
            let t = try #require(Self.tunnel(route))
            #expect(t.service?.metadata.name == "web" && !t.viaWaypoint)
            #expect(t.expected == Self.id("shop", "web"))
            chosen.append(t.authority.description)
        }
        #expect(keys == Array(repeating: "shop/web of 2", count: 4))
        #expect(chosen == ["10.0.0.1:8080", "[fd00::2]:8080", "10.0.0.1:8080", "[fd00::2]:8080"])
    }

    @Test("a port without targetPort keeps its number; `pick` beyond the count wraps")
    func vipSamePort() throws {
        let t = try #require(Self.tunnel(Self.decide("10.96.0.1", 443) { _, _ in 5 }))
        #expect(t.authority == HostPort(host: "fd00::2", port: 443))
    }

    @Test("a VIP whose endpoint is not in the mesh passes through to the endpoint's target port")
    func vipToPlainEndpoint() {
        #expect(Self.decide("10.96.0.2", 80) == .passthrough(ip: Self.ip("10.0.1.1"), port: 8000))
    }

    @Test("a port the service does not list is refused with a reason")
    func vipUnknownPort() {
        #expect(Self.decide("10.96.0.1", 8080) == .refuse(reason: "service shop/web has no port 8080"))
    }

    @Test("a service with no endpoints is refused")
    func noEndpoints() {
        #expect(Self.decide("10.96.0.3", 80) == .refuse(reason: "service shop/empty has no endpoints"))
    }

    // MARK: - Waypoints

    @Test("a service that uses a waypoint is tunnelled to the waypoint, with the VIP as authority")
    func viaWaypoint() throws {
        var picked = false
        let t = try #require(Self.tunnel(Self.decide("10.96.0.4", 80) { _, _ in picked = true; return 0 }))
        #expect(t.address == Self.ip("10.0.0.9"))
        #expect(t.authority == HostPort(host: "10.96.0.4", port: 80), "the waypoint picks the endpoint, so it needs the VIP")
        #expect(t.expected == Self.id("shop", "shop-waypoint"), "a waypoint's identity comes from its Gateway, not the workload's serviceAccount")
        #expect(t.destinationWorkload?.metadata.name == "shop-waypoint-x1")
        #expect(t.service?.metadata.name == "cart" && t.viaWaypoint)
        #expect(!picked, "no endpoint is chosen on the client side")
    }

    @Test("a service whose waypoint has no workload is refused, never sent around it")
    func waypointMissing() {
        #expect(Self.decide("10.96.0.5", 80) == .refuse(reason: "service shop/pay uses waypoint gone, which has no running workload"))
    }

    @Test("the round-robin counter cycles per service and survives a shrinking endpoint list")
    func roundRobin() {
        let robin = RoundRobin()
        #expect((0..<5).map { _ in robin.next("a", 3) } == [0, 1, 2, 0, 1])
        #expect(robin.next("b", 3) == 0, "each service has its own counter")
        #expect(robin.next("a", 1) == 2, "a stale counter is wrapped by the caller (% count)")
        #expect(robin.next("a", 1) == 0)
        #expect(robin.next("none", 0) == 0)
    }
}
