import Testing

@testable import AmbitCore

/// References between resources that do not resolve are shown as conditions, one kind of
/// dangling reference per test, never dropped silently.
@Suite("L7 status conditions")
struct L7StatusTests {
    /// A namespace whose `cart` service uses the `waypoint` Gateway, and a `db` service.
    static let base = """
        kind: Namespace
        metadata: {name: shop, labels: {team: shop}}
        ---
        kind: Namespace
        metadata: {name: other}
        ---
        kind: Gateway
        metadata: {name: waypoint, namespace: shop}
        spec:
          gatewayClassName: ambit-waypoint
          listeners:
          - {name: mesh, port: 15008, protocol: HBONE}
          - {name: raw, port: 5432, protocol: TCP}
          - {name: web, port: 8080, protocol: HTTP, hostname: "*.shop.example", allowedRoutes: {namespaces: {from: All}}}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop, labels: {ambit.dev/use-waypoint: waypoint}}
        spec: {ports: [{name: http, port: 80}]}
        ---
        kind: Service
        metadata: {name: db, namespace: shop}
        spec: {ports: [{port: 5432}]}

        """

    /// The conditions of the last resource in `base + extra`.
    static func conditions(_ extra: String) throws -> [Condition] {
        let resources = try ResourceDecoder.decodeFile(base + "---\n" + extra, file: "f")
        return ResourceStatus.conditions(for: resources.last!, in: try MeshSnapshot(resources))
    }

    static func route(ns: String = "shop", parents: String, backends: String = "[{name: cart, port: 80}]", extra: String = "") -> String {
        "kind: HTTPRoute\nmetadata: {name: r, namespace: \(ns)}\nspec: {parentRefs: \(parents)\(extra), rules: [{backendRefs: \(backends)}]}"
    }

    static let resolved = Condition(type: .resolvedRefs, status: .true, reason: .resolvedRefs, message: "all references resolved")

    @Test("everything resolving: a route on a Service and on the Gateway, a DestinationRule, the waypoint labels")
    func allResolved() throws {
        let onService = ParentReference(kind: .service, name: "cart", namespace: "shop", port: 80)
        #expect(try Self.conditions(Self.route(parents: "[{kind: Service, name: cart, port: 80}]")) == [
            Condition(type: .accepted, status: .true, reason: .accepted, message: "attached to Service shop/cart port 80", parent: onService),
            Self.resolved,
        ])
        let onGateway = ParentReference(kind: .gateway, name: "waypoint", namespace: "shop", sectionName: "mesh")
        #expect(try Self.conditions(Self.route(parents: "[{name: waypoint, sectionName: mesh}]")) == [
            Condition(type: .accepted, status: .true, reason: .accepted, message: "attached to Gateway shop/waypoint section 'mesh'", parent: onGateway),
            Self.resolved,
        ])
        let grpc = "kind: GRPCRoute\nmetadata: {name: g, namespace: shop}\nspec: {parentRefs: [{kind: Service, name: cart}], rules: [{backendRefs: [{name: cart, port: 80}]}]}"
        #expect(try Self.conditions(grpc).map(\.status) == [.true, .true])
        #expect(try Self.conditions("kind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec: {host: cart}") == [
            Condition(type: .accepted, status: .true, reason: .accepted, message: "the DestinationRule is valid"),
            Condition(type: .resolvedRefs, status: .true, reason: .resolvedRefs, message: "host matches Service shop/cart"),
        ])
        #expect(try Self.conditions("kind: Namespace\nmetadata: {name: third, labels: {ambit.dev/use-waypoint: w}}\n---\nkind: Gateway\nmetadata: {name: w, namespace: third}\nspec: {gatewayClassName: ambit-waypoint}\n---\nkind: Service\nmetadata: {name: s, namespace: third, labels: {ambit.dev/use-waypoint: w}}\nspec: {ports: [{port: 1}]}") == [
            Condition(type: .resolvedRefs, status: .true, reason: .resolvedRefs, message: "uses waypoint Gateway third/w")
        ])
        #expect(try Self.conditions("kind: Gateway\nmetadata: {name: g2, namespace: shop}\nspec: {gatewayClassName: ambit-waypoint}") == [
            Condition(type: .accepted, status: .true, reason: .accepted, message: "the waypoint Gateway is valid")
        ])
        // Kinds that refer to nothing have no conditions.
        #expect(try Self.conditions("kind: Workload\nmetadata: {name: w, namespace: shop}\nspec: {node: n, addresses: [10.0.0.1]}").isEmpty)
        #expect(try Self.conditions("kind: Service\nmetadata: {name: plain, namespace: other}\nspec: {ports: [{port: 1}]}").isEmpty)
    }

    struct Dangling: Sendable, CustomTestStringConvertible {
        let what: String
        let document: String
        let condition: Condition.ConditionType
        let reason: Condition.Reason
        let message: String
        var testDescription: String { what }
    }

    static let dangling: [Dangling] = [
        Dangling(what: "a backend Service that does not exist", document: route(parents: "[{name: waypoint}]", backends: "[{name: cart, port: 80}, {name: ghost, port: 80}]"),
                 condition: .resolvedRefs, reason: .backendNotFound, message: "Service shop/ghost does not exist"),
        Dangling(what: "a backend port the Service does not have", document: route(parents: "[{name: waypoint}]", backends: "[{name: cart, port: 81}]"),
                 condition: .resolvedRefs, reason: .backendNotFound, message: "Service shop/cart has no port 81"),
        Dangling(what: "a backend of a kind Ambit cannot route to", document: route(parents: "[{name: waypoint}]", backends: "[{group: networking.istio.io, kind: ServiceEntry, name: ext}]"),
                 condition: .resolvedRefs, reason: .invalidKind, message: "ServiceEntry.networking.istio.io shop/ext: only Service backends are supported"),
        Dangling(what: "a mirror to a Service that does not exist",
                 document: "kind: HTTPRoute\nmetadata: {name: r, namespace: shop}\nspec: {parentRefs: [{name: waypoint}], rules: [{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}}}], backendRefs: [{name: cart, port: 80}]}]}",
                 condition: .resolvedRefs, reason: .backendNotFound, message: "Service shop/shadow does not exist"),
        Dangling(what: "a gRPC backend in another namespace that does not exist",
                 document: "kind: GRPCRoute\nmetadata: {name: g, namespace: shop}\nspec: {parentRefs: [{name: waypoint}], rules: [{backendRefs: [{name: cart, namespace: other, port: 80}]}]}",
                 condition: .resolvedRefs, reason: .backendNotFound, message: "Service other/cart does not exist"),
        Dangling(what: "a parent Gateway that does not exist", document: route(parents: "[{name: nowhere}]"),
                 condition: .accepted, reason: .noMatchingParent, message: "Gateway shop/nowhere does not exist"),
        Dangling(what: "a parent Service that does not exist", document: route(parents: "[{kind: Service, name: ghost}]"),
                 condition: .accepted, reason: .noMatchingParent, message: "Service shop/ghost does not exist"),
        Dangling(what: "a parent Service port that does not exist", document: route(parents: "[{kind: Service, name: cart, port: 8080}]"),
                 condition: .accepted, reason: .noMatchingParent, message: "Service shop/cart has no port 8080"),
        Dangling(what: "a listener name the Gateway does not have", document: route(parents: "[{name: waypoint, sectionName: public}]"),
                 condition: .accepted, reason: .noMatchingParent, message: "Gateway shop/waypoint has no listener named 'public'"),
        Dangling(what: "a listener port the Gateway does not have", document: route(parents: "[{name: waypoint, port: 9999}]"),
                 condition: .accepted, reason: .noMatchingParent, message: "Gateway shop/waypoint has no listener on port 9999"),
        Dangling(what: "an HTTP route on a TCP listener", document: route(parents: "[{name: waypoint, sectionName: raw}]"),
                 condition: .accepted, reason: .notAllowedByListeners,
                 message: "no listener of Gateway shop/waypoint admits this route (TCP listeners take no HTTP routes; allowedRoutes limits the namespaces)"),
        Dangling(what: "a route from another namespace on a Same-namespace listener", document: route(ns: "other", parents: "[{name: waypoint, namespace: shop, sectionName: mesh}]", backends: "[{name: cart, namespace: shop, port: 80}]"),
                 condition: .accepted, reason: .notAllowedByListeners,
                 message: "no listener of Gateway shop/waypoint admits this route (TCP listeners take no HTTP routes; allowedRoutes limits the namespaces)"),
        Dangling(what: "route hostnames no listener serves", document: route(parents: "[{name: waypoint, sectionName: web}]", extra: ", hostnames: [api.example]"),
                 condition: .accepted, reason: .noMatchingListenerHostname, message: "none of the route's hostnames matches a listener hostname of Gateway shop/waypoint"),
        Dangling(what: "a route on a Service that uses no waypoint", document: route(parents: "[{kind: Service, name: db}]"),
                 condition: .accepted, reason: .noWaypoint,
                 message: "Service shop/db has no waypoint: label it or its namespace ambit.dev/use-waypoint=NAME, or the route is never applied"),
        Dangling(what: "a use-waypoint label on a Service naming a missing Gateway",
                 document: "kind: Service\nmetadata: {name: s, namespace: shop, labels: {ambit.dev/use-waypoint: gone}}\nspec: {ports: [{port: 1}]}",
                 condition: .resolvedRefs, reason: .waypointNotFound, message: "ambit.dev/use-waypoint=gone names no Gateway in namespace shop"),
        Dangling(what: "a use-waypoint label on a Namespace naming a missing Gateway",
                 document: "kind: Namespace\nmetadata: {name: lost, labels: {ambit.dev/use-waypoint: waypoint}}",
                 condition: .resolvedRefs, reason: .waypointNotFound, message: "ambit.dev/use-waypoint=waypoint names no Gateway in namespace lost"),
        Dangling(what: "a use-waypoint label naming a Gateway with no HBONE listener",
                 document: "kind: Gateway\nmetadata: {name: tcp-only, namespace: other}\nspec: {gatewayClassName: ambit-waypoint, listeners: [{name: t, port: 1, protocol: TCP}]}\n---\nkind: Service\nmetadata: {name: s, namespace: other, labels: {ambit.dev/use-waypoint: tcp-only}}\nspec: {ports: [{port: 1}]}",
                 condition: .resolvedRefs, reason: .waypointNotFound, message: "Gateway other/tcp-only has no HBONE listener, so mesh traffic cannot reach it"),
        Dangling(what: "a DestinationRule host that matches no Service", document: "kind: DestinationRule\nmetadata: {name: d, namespace: shop}\nspec: {host: payments}",
                 condition: .resolvedRefs, reason: .backendNotFound, message: "host 'payments.shop.svc.cluster.local' matches no Service"),
        Dangling(what: "a DestinationRule short host with a dot, which Istio takes as written", document: "kind: DestinationRule\nmetadata: {name: d, namespace: other}\nspec: {host: cart.shop}",
                 condition: .resolvedRefs, reason: .backendNotFound, message: "host 'cart.shop' matches no Service"),
    ]

    @Test("an unresolved reference shows up as a False condition with Gateway API's reason", arguments: dangling)
    func unresolved(_ d: Dangling) throws {
        let conditions = try Self.conditions(d.document)
        let failing = conditions.filter { $0.status == .false }
        #expect(failing.count == 1)
        let c = try #require(failing.first)
        #expect(c.type == d.condition && c.reason == d.reason && c.message == d.message)
    }

    @Test("several unresolved backends: the first gives the reason, the message lists each once")
    func severalBackends() throws {
        let conditions = try Self.conditions(Self.route(
            parents: "[{name: waypoint}]", backends: "[{kind: Pod, name: p}, {name: ghost, port: 80}, {name: ghost, port: 80, weight: 2}]"))
        #expect(conditions.last == Condition(
            type: .resolvedRefs, status: .false, reason: .invalidKind,
            message: "Pod shop/p: only Service backends are supported; Service shop/ghost does not exist"))
    }

    @Test("a route with two parents gets one Accepted condition per parent")
    func perParent() throws {
        let conditions = try Self.conditions(Self.route(parents: "[{name: waypoint}, {name: missing}]"))
        #expect(conditions.map(\.type) == [.accepted, .accepted, .resolvedRefs])
        #expect(conditions.map(\.status) == [.true, .false, .true])
        #expect(conditions[1].parent == ParentReference(kind: .gateway, name: "missing", namespace: "shop"))
        #expect("\(conditions[1])" == "Accepted=False (NoMatchingParent): Gateway shop/missing does not exist")
    }
}
