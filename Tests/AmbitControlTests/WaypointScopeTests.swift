import AmbitControl
import AmbitCore
import Testing

@Suite("What each waypoint is sent")
struct WaypointScopeTests {
    /// Namespace `shop` uses waypoint `shop/waypoint`; `cart` routes to itself and, for a
    /// canary header, to `canary/cart-v2`, and mirrors to `audit/recorder`. `shop/legacy`
    /// opts out with its own label; namespace `other` has its own waypoint and pods.
    static let yaml = """
        kind: MeshConfig
        metadata: {name: mesh}
        spec: {ca: {directory: /secret/ca}}
        ---
        kind: Namespace
        metadata: {name: shop, labels: {ambit.dev/dataplane-mode: ambient, ambit.dev/use-waypoint: waypoint}}
        ---
        kind: Namespace
        metadata: {name: canary, labels: {ambit.dev/dataplane-mode: ambient}}
        ---
        kind: Namespace
        metadata: {name: audit}
        ---
        kind: Namespace
        metadata: {name: other, labels: {ambit.dev/use-waypoint: waypoint}}
        ---
        kind: Gateway
        metadata: {name: waypoint, namespace: shop}
        spec: {gatewayClassName: ambit-waypoint}
        ---
        kind: Gateway
        metadata: {name: waypoint, namespace: other}
        spec: {gatewayClassName: ambit-waypoint}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop}
        spec: {selector: {app: cart}, addresses: [10.96.0.1], ports: [{port: 80, targetPort: 8080}]}
        ---
        kind: Service
        metadata: {name: legacy, namespace: shop, labels: {ambit.dev/use-waypoint: none-such}}
        spec: {selector: {app: legacy}, addresses: [10.96.0.2], ports: [{port: 80}]}
        ---
        kind: Service
        metadata: {name: cart-v2, namespace: canary}
        spec: {selector: {app: cart, version: v2}, addresses: [10.96.0.3], ports: [{port: 8080}]}
        ---
        kind: Service
        metadata: {name: recorder, namespace: audit}
        spec: {selector: {app: recorder}, addresses: [10.96.0.4], ports: [{port: 9000}]}
        ---
        kind: Service
        metadata: {name: unrelated, namespace: canary}
        spec: {selector: {app: unrelated}, addresses: [10.96.0.5], ports: [{port: 80}]}
        ---
        kind: Service
        metadata: {name: api, namespace: other}
        spec: {selector: {app: api}, addresses: [10.96.0.6], ports: [{port: 80}]}
        ---
        kind: Workload
        metadata: {name: cart-1, namespace: shop, labels: {app: cart}}
        spec: {serviceAccount: cart, node: n1, addresses: [10.0.0.1], netns: /var/run/netns/cart-1}
        ---
        kind: Workload
        metadata: {name: legacy-1, namespace: shop, labels: {app: legacy}}
        spec: {serviceAccount: legacy, node: n1, addresses: [10.0.0.2]}
        ---
        kind: Workload
        metadata: {name: cart-v2-1, namespace: canary, labels: {app: cart, version: v2}}
        spec: {serviceAccount: cart, node: n2, addresses: [10.0.0.3], netns: /var/run/netns/cart-v2-1, dnsServers: [10.96.0.10]}
        ---
        kind: Workload
        metadata: {name: recorder-1, namespace: audit, labels: {app: recorder}}
        spec: {serviceAccount: recorder, node: n2, addresses: [10.0.0.4]}
        ---
        kind: Workload
        metadata: {name: unrelated-1, namespace: canary, labels: {app: unrelated}}
        spec: {serviceAccount: unrelated, node: n2, addresses: [10.0.0.5]}
        ---
        kind: Workload
        metadata: {name: api-1, namespace: other, labels: {app: api}}
        spec: {serviceAccount: api, node: n2, addresses: [10.0.0.6]}
        ---
        kind: HTTPRoute
        metadata: {name: cart, namespace: shop}
        spec:
          parentRefs: [{kind: Service, name: cart, port: 80}]
          rules:
          - matches: [{headers: [{name: x-canary, value: "1"}]}]
            backendRefs: [{name: cart-v2, namespace: canary, port: 8080}]
            filters: [{type: RequestMirror, requestMirror: {backendRef: {name: recorder, namespace: audit, port: 9000}}}]
          - backendRefs: [{name: cart, port: 80}]
        ---
        kind: HTTPRoute
        metadata: {name: gateway-wide, namespace: shop}
        spec: {parentRefs: [{name: waypoint}], rules: [{backendRefs: [{name: cart, port: 80}]}]}
        ---
        kind: HTTPRoute
        metadata: {name: legacy, namespace: shop}
        spec: {parentRefs: [{kind: Service, name: legacy, port: 80}], rules: [{backendRefs: [{name: legacy, port: 80}]}]}
        ---
        kind: GRPCRoute
        metadata: {name: cart-grpc, namespace: shop}
        spec: {parentRefs: [{kind: Service, name: cart, port: 80}], rules: [{backendRefs: [{name: cart, port: 80}]}]}
        ---
        kind: HTTPRoute
        metadata: {name: api, namespace: other}
        spec: {parentRefs: [{kind: Service, name: api, port: 80}], rules: [{backendRefs: [{name: api, port: 80}]}]}
        ---
        kind: DestinationRule
        metadata: {name: cart, namespace: shop}
        spec: {host: cart, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
        ---
        kind: DestinationRule
        metadata: {name: v2-from-elsewhere, namespace: other}
        spec: {host: cart-v2.canary.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
        ---
        kind: DestinationRule
        metadata: {name: api, namespace: other}
        spec: {host: api, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
        ---
        kind: AuthorizationPolicy
        metadata: {name: shop-l7, namespace: shop}
        spec: {rules: [{to: [{operation: {methods: [GET]}}]}]}
        ---
        kind: AuthorizationPolicy
        metadata: {name: canary-l4, namespace: canary}
        spec: {}
        ---
        kind: AuthorizationPolicy
        metadata: {name: other-l7, namespace: other}
        spec: {}
        ---
        kind: AuthorizationPolicy
        metadata: {name: mesh-wide, namespace: ambit-system}
        spec: {action: DENY, rules: [{from: [{source: {namespaces: [evil]}}]}]}
        ---
        kind: PeerAuthentication
        metadata: {name: strict, namespace: canary}
        spec: {mtls: {mode: STRICT}}
        ---
        kind: PeerAuthentication
        metadata: {name: strict, namespace: other}
        spec: {mtls: {mode: STRICT}}
        """

    static func scoped(_ namespace: String, _ name: String) throws -> MeshSnapshot? {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(yaml, file: "mesh.yaml")
        let stored = registry.store.snapshot().resources
        return try WaypointScope.resources(forGateway: namespace, name, stored: stored, snapshot: registry.snapshot).map { resources in
            try MeshSnapshot(resources.map { try ResourceDecoder.decode($0.document) })
        }
    }

    static func keys<T>(_ items: [T], _ key: (T) -> String) -> [String] { items.map(key).sorted() }

    @Test("the waypoint gets its Gateway, the services using it, their routes, every backend with its pods, and the policies of those namespaces")
    func scope() throws {
        let s = try #require(try Self.scoped("shop", "waypoint"))
        #expect(s.mesh.caDirectory == nil, "the CA directory never leaves the control plane")
        #expect(Self.keys(s.gateways) { $0.metadata.key } == ["shop/waypoint"])
        // cart uses the waypoint; legacy names another one and is neither served nor a backend.
        #expect(Self.keys(s.services) { $0.metadata.key } == ["audit/recorder", "canary/cart-v2", "shop/cart"])
        #expect(Self.keys(s.httpRoutes) { $0.metadata.key } == ["shop/cart", "shop/gateway-wide"])
        #expect(Self.keys(s.grpcRoutes) { $0.metadata.key } == ["shop/cart-grpc"])
        #expect(Self.keys(s.workloads) { $0.metadata.key } == ["audit/recorder-1", "canary/cart-v2-1", "shop/cart-1"])
        #expect(s.workloads.allSatisfy { $0.netns == nil && $0.dnsServers.isEmpty }, "node-local details stay with the node")
        #expect(s.namespaces.keys.sorted() == ["audit", "canary", "shop"])
        // Policies of the waypoint's namespace, its backends' namespaces and the root.
        #expect(Self.keys(s.authorizationPolicies) { $0.metadata.key } == ["ambit-system/mesh-wide", "canary/canary-l4", "shop/shop-l7"])
        #expect(Self.keys(s.peerAuthentications) { $0.metadata.key } == ["canary/strict"])
        // DestinationRules of those namespaces, and one elsewhere that names a backend.
        #expect(Self.keys(s.destinationRules) { $0.metadata.key } == ["other/v2-from-elsewhere", "shop/cart"])
        // Enough to route: the served service resolves to this very Gateway, backends to pods.
        let cart = try #require(s.service(namespace: "shop", name: "cart"))
        #expect(s.waypoint(for: cart)?.metadata.key == "shop/waypoint")
        #expect(s.endpoints(of: try #require(s.service(namespace: "canary", name: "cart-v2"))).map(\.metadata.name) == ["cart-v2-1"])
    }

    @Test("another namespace's waypoint gets only its own namespace's traffic")
    func otherWaypoint() throws {
        let s = try #require(try Self.scoped("other", "waypoint"))
        #expect(Self.keys(s.services) { $0.metadata.key } == ["other/api"])
        #expect(Self.keys(s.httpRoutes) { $0.metadata.key } == ["other/api"])
        #expect(Self.keys(s.workloads) { $0.metadata.key } == ["other/api-1"])
        #expect(Self.keys(s.authorizationPolicies) { $0.metadata.key } == ["ambit-system/mesh-wide", "other/other-l7"])
        #expect(Self.keys(s.destinationRules) { $0.metadata.key } == ["other/api", "other/v2-from-elsewhere"])
    }

    @Test("no Gateway of that name: nothing to serve")
    func unknownGateway() throws {
        #expect(try Self.scoped("shop", "nope") == nil)
    }
}
