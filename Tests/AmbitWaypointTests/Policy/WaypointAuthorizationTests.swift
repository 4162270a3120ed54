import AmbitCore
import NIOHTTP1
import Testing

@testable import AmbitWaypoint

/// L7 authorization at the waypoint: which policies it takes (targetRefs), what it sees
/// of the request, and Envoy's 403.
@Suite("Waypoint authorization")
struct WaypointAuthorizationTests {
    typealias R = Routing

    static let policies = """
        kind: AuthorizationPolicy
        metadata: {name: no-admin-writes, namespace: shop}
        spec:
          targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]
          action: DENY
          rules: [{to: [{operation: {methods: [POST, PUT, DELETE], paths: ["/admin/*"]}}]}]
        ---
        kind: AuthorizationPolicy
        metadata: {name: cart-readers, namespace: shop}
        spec:
          targetRefs: [{kind: Service, name: cart}]
          rules:
          - from: [{source: {principals: [cluster.local/ns/shop/sa/frontend]}}]
            to: [{operation: {hosts: [cart.shop.svc.cluster.local], paths: ["/cart*"]}}]
            when: [{key: "request.headers[x-tenant]", values: [gold]}]
        ---
        kind: AuthorizationPolicy
        metadata: {name: node-only, namespace: shop}
        spec: {action: DENY, rules: [{}]}
        """

    static func authorization(for service: String) throws -> WaypointAuthorization {
        let s = try R.snapshot(Self.policies)
        let svc = try #require(s.service(namespace: "shop", name: service))
        return WaypointAuthorization(waypoint: try #require(s.waypoint(for: svc)), service: svc, snapshot: s)
    }

    static func connection(_ principal: String) -> AuthorizationEvaluator.Connection {
        .init(
            sourcePrincipal: try! SpiffeID(parsing: "spiffe://" + principal), sourceIP: IPAddress("10.0.0.5"),
            destinationIP: IPAddress("10.96.0.10"), destinationPort: 80)
    }

    static let frontend = connection("cluster.local/ns/shop/sa/frontend")

    @Test("the waypoint takes the policies naming it or the service, never the node's")
    func applicable() throws {
        #expect(try Self.authorization(for: "cart").policies.map(\.metadata.name) == ["no-admin-writes", "cart-readers"])
        #expect(try Self.authorization(for: "db").policies.map(\.metadata.name) == ["no-admin-writes"])
    }

    @Test("an allowed request: the right principal, host (with port), path and header")
    func allowed() throws {
        let auth = try Self.authorization(for: "cart")
        let request = R.request(.GET, "/cart/items?page=2", host: "cart.shop.svc.cluster.local:80", headers: [("X-Tenant", "gold")])
        #expect(auth.authorize(request, connection: Self.frontend) == .allow)
    }

    @Test("each missing condition denies: principal, header, path, host")
    func denied() throws {
        let auth = try Self.authorization(for: "cart")
        let stranger = Self.connection("cluster.local/ns/other/sa/stranger")
        let good = [("x-tenant", "gold")]
        #expect(!auth.authorize(R.request(.GET, "/cart", headers: good), connection: stranger).isAllowed)
        #expect(!auth.authorize(R.request(.GET, "/cart"), connection: Self.frontend).isAllowed)
        #expect(!auth.authorize(R.request(.GET, "/orders", headers: good), connection: Self.frontend).isAllowed)
        #expect(!auth.authorize(R.request(.GET, "/cart", host: "cart.example.com", headers: good), connection: Self.frontend).isAllowed)
    }

    @Test("the Gateway's DENY applies to every service behind it; other services have no ALLOW, so the rest passes")
    func denyOnGateway() throws {
        let db = try Self.authorization(for: "db")
        #expect(db.authorize(R.request(.POST, "/admin/users", host: "db"), connection: Self.frontend)
            == .deny(reason: "denied by DENY policy shop/no-admin-writes"))
        #expect(db.authorize(R.request(.GET, "/admin/users", host: "db"), connection: Self.frontend) == .allow)
    }

    @Test("a denial is answered the way Envoy does: 403 RBAC: access denied")
    func accessDenied() {
        #expect(LocalReply.accessDenied.status == .forbidden && LocalReply.accessDenied.body == "RBAC: access denied")
    }
}
