import Testing

@testable import AmbitCore

/// `AuthorizationPolicy.targetRefs`: how a policy says it belongs to a waypoint (Istio
/// ambient), and the consequence that the node's L4 evaluation leaves it alone.
@Suite("AuthorizationPolicy targetRefs")
struct PolicyTargetRefsTests {
    typealias Bad = ResourceDecoderTests.Bad
    static let policy = "kind: AuthorizationPolicy\nmetadata: {name: p, namespace: shop}\nspec: "
    static let p = "mesh.yaml, document 1 (AuthorizationPolicy shop/p): "

    @Test("targetRefs name a waypoint Gateway or a Service, as Istio spells them")
    func decodes() throws {
        let r = try ResourceDecoder.decodeFile(
            Self.policy + "{targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}, {kind: Service, group: \"\", name: cart}], action: DENY}",
            file: "mesh.yaml")
        guard case .authorizationPolicy(let policy) = r.first else { Issue.record("not a policy"); return }
        #expect(policy.targetRefs == [.init(kind: .gateway, name: "waypoint"), .init(kind: .service, name: "cart")])
        #expect(policy.selector == nil && policy.action == .deny)
    }

    static let bad: [Bad] = [
        Bad("selector and targetRefs together", policy + "{selector: {matchLabels: {app: cart}}, targetRefs: [{kind: Service, name: cart}]}",
            p + "spec.targetRefs: selector and targetRefs cannot be used together: use selector for workloads (enforced by the node) or targetRefs for a waypoint Gateway or Service (enforced by the waypoint)"),
        Bad("a target of another kind", policy + "{targetRefs: [{kind: ServiceEntry, name: x}]}",
            p + "spec.targetRefs[0].kind: must be one of Gateway, Service, got 'ServiceEntry'"),
        Bad("a Gateway target in the core group", policy + "{targetRefs: [{kind: Gateway, group: \"\", name: w}]}",
            p + "spec.targetRefs[0].group: a Gateway target's group is gateway.networking.k8s.io, got ''"),
        Bad("a target without a name", policy + "{targetRefs: [{kind: Service}]}", p + "spec.targetRefs[0].name: is required"),
        Bad("a target with a namespace", policy + "{targetRefs: [{kind: Service, name: cart, namespace: other}]}",
            p + "spec.targetRefs[0].namespace: unknown field (known here: group, kind, name)"),
        Bad("a target twice", policy + "{targetRefs: [{kind: Service, name: cart}, {kind: Service, name: cart}]}",
            p + "spec.targetRefs[1]: Service cart is listed twice"),
    ]

    @Test("a bad targetRefs is refused with the field and the reason", arguments: bad)
    func refused(_ bad: Bad) {
        #expect(throws: ResourceError.self) {
            do {
                _ = try ResourceDecoder.decodeFile(bad.text, file: "mesh.yaml")
            } catch {
                #expect("\(error)" == bad.message)
                throw error
            }
        }
    }

    static let mesh = """
        kind: Gateway
        metadata: {name: waypoint, namespace: shop}
        spec: {gatewayClassName: ambit-waypoint}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop}
        spec: {selector: {app: cart}, ports: [{port: 80}]}
        ---
        kind: Service
        metadata: {name: db, namespace: shop}
        spec: {selector: {app: db}, ports: [{port: 5432}]}
        ---
        kind: Workload
        metadata: {name: cart-1, namespace: shop, labels: {app: cart}}
        spec: {node: n1, addresses: [10.0.0.1]}
        ---
        kind: AuthorizationPolicy
        metadata: {name: on-waypoint, namespace: shop}
        spec: {targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}], action: DENY}
        ---
        kind: AuthorizationPolicy
        metadata: {name: on-cart, namespace: shop}
        spec: {targetRefs: [{kind: Service, name: cart}]}
        ---
        kind: AuthorizationPolicy
        metadata: {name: namespace-wide, namespace: shop}
        spec: {action: ALLOW, rules: [{}]}
        ---
        kind: AuthorizationPolicy
        metadata: {name: other-waypoint, namespace: other}
        spec: {targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]}
        """

    @Test("the node ignores targetRef'd policies; the waypoint takes exactly those naming it or the service")
    func whoEnforces() throws {
        let s = try MeshSnapshot(ResourceDecoder.decodeFile(Self.mesh, file: "mesh.yaml"))
        let workload = try #require(s.workloads.first)
        #expect(s.authorizationPolicies(for: workload).map(\.metadata.name) == ["namespace-wide"])
        let waypoint = try #require(s.gateway(namespace: "shop", name: "waypoint"))
        let cart = try #require(s.service(namespace: "shop", name: "cart"))
        let db = try #require(s.service(namespace: "shop", name: "db"))
        #expect(s.authorizationPolicies(atWaypoint: waypoint, for: cart).map(\.metadata.name) == ["on-waypoint", "on-cart"])
        #expect(s.authorizationPolicies(atWaypoint: waypoint, for: db).map(\.metadata.name) == ["on-waypoint"])
    }
}
