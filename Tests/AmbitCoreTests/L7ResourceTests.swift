import Testing

@testable import AmbitCore

/// The L7 kinds a waypoint enforces, as users write them: what a valid document means,
/// with every default Gateway API and Istio define filled in.
@Suite("L7 resources")
struct L7ResourceTests {
    static func decode(_ text: String) throws -> Resource {
        let resources = try ResourceDecoder.decodeFile(text, file: "l7.yaml")
        try #require(resources.count == 1)
        return resources[0]
    }

    // MARK: - Gateway

    @Test("a waypoint Gateway with no listeners gets Istio's one HBONE listener on 15008")
    func gatewayDefaults() throws {
        let r = try Self.decode("""
            apiVersion: gateway.networking.k8s.io/v1
            kind: Gateway
            metadata: {name: waypoint, namespace: shop}
            spec: {gatewayClassName: ambit-waypoint}
            """)
        #expect(r == .gateway(Gateway(metadata: ObjectMeta(name: "waypoint", namespace: "shop"))))
        guard case .gateway(let g) = r else { return }
        #expect(g.listeners == [Gateway.Listener(name: "mesh", port: 15008, protocol: .hbone, allowedRoutes: .same)])
        #expect(g.gatewayClassName == "ambit-waypoint" && g.addresses.isEmpty)
    }

    @Test("listeners, allowedRoutes and addresses are read as written")
    func gatewayListeners() throws {
        let r = try Self.decode("""
            kind: Gateway
            metadata: {name: edge, namespace: shop}
            spec:
              gatewayClassName: ambit-waypoint
              listeners:
              - {name: mesh, port: 15008, protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}
              - name: web
                port: 8080
                protocol: HTTP
                hostname: "*.shop.example"
                allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {team: shop}}}}
              - {name: db, port: 5432, protocol: TCP}
              addresses: [{value: 10.96.0.99}, {type: Hostname, value: waypoint.shop.example}]
            """)
        guard case .gateway(let g) = r else { Issue.record("not a Gateway: \(r)"); return }
        #expect(g.listeners == [
            Gateway.Listener(name: "mesh", port: 15008, protocol: .hbone, allowedRoutes: .all),
            Gateway.Listener(name: "web", port: 8080, protocol: .http, hostname: "*.shop.example", allowedRoutes: .selector(["team": "shop"])),
            Gateway.Listener(name: "db", port: 5432, protocol: .tcp),
        ])
        #expect(g.addresses == [.init(value: "10.96.0.99"), .init(type: .hostname, value: "waypoint.shop.example")])
        #expect(g.hboneListeners.map(\.name) == ["mesh"])
    }

    // MARK: - HTTPRoute

    @Test("an HTTPRoute with bare rules gets Gateway API's defaults: PathPrefix /, weight 1, group/kind Service, the route's namespace")
    func httpRouteDefaults() throws {
        let r = try Self.decode("""
            kind: HTTPRoute
            metadata: {name: cart, namespace: shop}
            spec:
              parentRefs: [{kind: Service, name: cart, port: 80}]
              rules:
              - backendRefs: [{name: cart-v1, port: 8080}]
              - matches: [{headers: [{name: x-canary, value: "1"}]}]
                backendRefs: [{name: cart-v2, namespace: canary, port: 8080, weight: 0}]
            """)
        guard case .httpRoute(let route) = r else { Issue.record("not an HTTPRoute: \(r)"); return }
        #expect(route.parentRefs == [ParentReference(kind: .service, name: "cart", namespace: "shop", port: 80)])
        #expect(route.parentRefs[0].group == "" && route.hostnames.isEmpty)
        #expect(route.rules.count == 2)
        #expect(route.rules[0].matches == [HTTPRoute.Match(path: HTTPRoute.PathMatch(type: .pathPrefix, value: "/"))])
        #expect(route.rules[0].backendRefs == [
            HTTPRoute.BackendRef(backend: BackendReference(group: "", kind: "Service", name: "cart-v1", namespace: "shop", port: 8080, weight: 1))
        ])
        #expect(route.rules[0].timeouts == HTTPRoute.Timeouts() && route.rules[0].retry == nil && route.rules[0].filters.isEmpty)
        #expect(route.rules[1].matches == [HTTPRoute.Match(path: .default, headers: [HeaderMatch(type: .exact, name: "x-canary", value: "1")])])
        #expect(route.rules[1].backendRefs[0].backend == BackendReference(name: "cart-v2", namespace: "canary", port: 8080, weight: 0))
    }

    @Test("an HTTPRoute with no rules gets one that matches every path")
    func httpRouteNoRules() throws {
        guard case .httpRoute(let route) = try Self.decode("kind: HTTPRoute\nmetadata: {name: r}\nspec: {parentRefs: [{name: waypoint}]}")
        else { Issue.record("not an HTTPRoute"); return }
        #expect(route.rules == [HTTPRoute.Rule(matches: [HTTPRoute.Match()])])
        #expect(route.parentRefs == [ParentReference(kind: .gateway, name: "waypoint", namespace: "default")])
        #expect(route.parentRefs[0].group == "gateway.networking.k8s.io")
    }

    @Test("every match, filter, timeout and retry field of an HTTPRoute")
    func httpRouteFull() throws {
        let r = try Self.decode("""
            kind: HTTPRoute
            metadata: {name: web, namespace: shop}
            spec:
              parentRefs:
              - {group: gateway.networking.k8s.io, kind: Gateway, name: waypoint, sectionName: mesh}
              hostnames: [shop.example, "*.shop.example"]
              rules:
              - name: api
                matches:
                - path: {type: PathPrefix, value: /api}
                  headers: [{type: RegularExpression, name: x-user, value: "^[a-z]+$"}]
                  queryParams: [{name: debug, value: "true"}]
                  method: POST
                - path: {type: RegularExpression, value: "/v[0-9]+/.*"}
                filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier:
                    set: [{name: x-env, value: prod}]
                    add: [{name: x-trace, value: "on"}]
                    remove: [x-internal]
                - {type: ResponseHeaderModifier, responseHeaderModifier: {remove: [server]}}
                - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 80}, percent: 10}}
                backendRefs:
                - name: api
                  port: 8080
                  weight: 90
                  filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-pool, value: a}]}}]
                - {name: api-next, port: 8080, weight: 10}
                timeouts: {request: 1m30s, backendRequest: 500ms}
                retry: {codes: [502, 503], attempts: 3, backoff: 100ms}
              - matches: [{path: {type: Exact, value: /old}}]
                filters:
                - type: RequestRedirect
                  requestRedirect: {scheme: https, hostname: new.shop.example, port: 443, statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /new}}
              - matches: [{path: {type: PathPrefix, value: /legacy}}]
                filters:
                - {type: URLRewrite, urlRewrite: {hostname: legacy.shop.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}
                backendRefs: [{name: legacy, port: 80}]
                timeouts: {request: 0s}
                retry: {}
            """)
        guard case .httpRoute(let route) = r else { Issue.record("not an HTTPRoute: \(r)"); return }
        #expect(route.parentRefs == [ParentReference(kind: .gateway, name: "waypoint", namespace: "shop", sectionName: "mesh")])
        #expect(route.hostnames == ["shop.example", "*.shop.example"])
        let api = route.rules[0]
        #expect(api.name == "api")
        #expect(api.matches == [
            HTTPRoute.Match(
                path: .init(type: .pathPrefix, value: "/api"), headers: [.init(type: .regularExpression, name: "x-user", value: "^[a-z]+$")],
                queryParams: [.init(name: "debug", value: "true")], method: .post),
            HTTPRoute.Match(path: .init(type: .regularExpression, value: "/v[0-9]+/.*")),
        ])
        #expect(api.filters == [
            .requestHeaderModifier(HeaderModifier(set: [.init(name: "x-env", value: "prod")], add: [.init(name: "x-trace", value: "on")], remove: ["x-internal"])),
            .responseHeaderModifier(HeaderModifier(remove: ["server"])),
            .requestMirror(RequestMirror(backendRef: BackendReference(name: "shadow", namespace: "shop", port: 80), percent: 10)),
        ])
        #expect(api.backendRefs.map(\.backend.weight) == [90, 10])
        #expect(api.backendRefs[0].filters == [.requestHeaderModifier(HeaderModifier(set: [.init(name: "x-pool", value: "a")]))])
        #expect(api.timeouts == HTTPRoute.Timeouts(request: .seconds(90), backendRequest: .milliseconds(500)))
        #expect(api.retry == HTTPRoute.Retry(codes: [502, 503], attempts: 3, backoff: .milliseconds(100)))

        #expect(route.rules[1].filters == [
            .requestRedirect(HTTPRoute.Redirect(scheme: "https", hostname: "new.shop.example", path: .replaceFullPath("/new"), port: 443, statusCode: 301))
        ])
        #expect(route.rules[1].backendRefs.isEmpty)
        #expect(route.rules[2].filters == [.urlRewrite(HTTPRoute.Rewrite(hostname: "legacy.shop.example", path: .replacePrefixMatch("/")))])
        #expect(route.rules[2].timeouts == HTTPRoute.Timeouts(request: .zero))
        // An empty retry stanza: Istio's two attempts, Envoy's 25 ms base backoff, connection errors only.
        #expect(route.rules[2].retry == HTTPRoute.Retry(codes: [], attempts: 2, backoff: .milliseconds(25)))
    }

    @Test("a redirect answers 302 unless told otherwise")
    func redirectDefault() throws {
        guard case .httpRoute(let route) = try Self.decode("""
            kind: HTTPRoute
            metadata: {name: r}
            spec: {parentRefs: [{name: w}], rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]}]}
            """)
        else { Issue.record("not an HTTPRoute"); return }
        #expect(route.rules[0].filters == [.requestRedirect(HTTPRoute.Redirect(scheme: "https", statusCode: 302))])
    }

    // MARK: - GRPCRoute

    @Test("a GRPCRoute matches by service and method, with header filters, mirrors and weights")
    func grpcRoute() throws {
        let r = try Self.decode("""
            kind: GRPCRoute
            metadata: {name: cart, namespace: shop}
            spec:
              parentRefs: [{kind: Service, name: cart}]
              rules:
              - matches:
                - method: {service: shop.v1.Cart, method: AddItem}
                  headers: [{name: x-tenant, value: acme}]
                - method: {type: RegularExpression, service: "shop\\\\.v[0-9]+\\\\.Cart"}
                filters:
                - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-served-by, value: waypoint}]}}
                - {type: RequestMirror, requestMirror: {backendRef: {name: cart-shadow, port: 9090}}}
                backendRefs: [{name: cart, port: 9090, weight: 3}, {name: cart-next, port: 9090}]
              - backendRefs: [{name: cart, port: 9090}]
            """)
        guard case .grpcRoute(let route) = r else { Issue.record("not a GRPCRoute: \(r)"); return }
        #expect(route.rules[0].matches == [
            GRPCRoute.Match(method: .init(type: .exact, service: "shop.v1.Cart", method: "AddItem"), headers: [.init(name: "x-tenant", value: "acme")]),
            GRPCRoute.Match(method: .init(type: .regularExpression, service: "shop\\.v[0-9]+\\.Cart")),
        ])
        #expect(route.rules[0].filters == [
            .responseHeaderModifier(HeaderModifier(add: [.init(name: "x-served-by", value: "waypoint")])),
            .requestMirror(RequestMirror(backendRef: BackendReference(name: "cart-shadow", namespace: "shop", port: 9090), percent: 100)),
        ])
        #expect(route.rules[0].backendRefs.map(\.backend.weight) == [3, 1])
        #expect(route.rules[1].matches.isEmpty)
    }

    // MARK: - DestinationRule

    @Test("a DestinationRule's present sections carry Istio's defaults; absent ones stay nil")
    func destinationRuleDefaults() throws {
        let r = try Self.decode("""
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: cart, namespace: shop}
            spec:
              host: cart
              trafficPolicy:
                connectionPool: {tcp: {}, http: {}}
                outlierDetection: {}
              subsets:
              - {name: v1, labels: {version: v1}}
            """)
        guard case .destinationRule(let rule) = r else { Issue.record("not a DestinationRule: \(r)"); return }
        let policy = try #require(rule.trafficPolicy)
        #expect(policy.loadBalancer == nil && policy.portLevelSettings.isEmpty)
        let pool = try #require(policy.connectionPool)
        #expect(pool.tcp.maxConnections == 4_294_967_295 && pool.tcp.connectTimeout == .seconds(10))
        #expect(pool.http.http1MaxPendingRequests == 4_294_967_295 && pool.http.http2MaxRequests == 4_294_967_295)
        #expect(pool.http.maxRequestsPerConnection == 0 && pool.http.maxRetries == 4_294_967_295 && pool.http.idleTimeout == .seconds(3600))
        let od = try #require(policy.outlierDetection)
        #expect(od.consecutive5xxErrors == 5 && od.consecutiveGatewayErrors == 0)
        #expect(od.interval == .seconds(10) && od.baseEjectionTime == .seconds(30) && od.maxEjectionPercent == 10 && od.minHealthPercent == 0)
        #expect(rule.subsets == [DestinationRule.Subset(name: "v1", labels: ["version": "v1"])])
        #expect(rule.fullyQualifiedHost(clusterDomain: "cluster.local") == "cart.shop.svc.cluster.local")
        #expect(DestinationRule.LoadBalancer.default == .simple(.leastRequest))
    }

    @Test("load balancers, consistent hashing, port-level settings and subset policies")
    func destinationRuleFull() throws {
        let r = try Self.decode("""
            kind: DestinationRule
            metadata: {name: cart, namespace: shop}
            spec:
              host: cart.shop.svc.cluster.local
              trafficPolicy:
                loadBalancer: {simple: ROUND_ROBIN}
                connectionPool:
                  tcp: {maxConnections: 100, connectTimeout: 250ms}
                  http: {http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 1, maxRetries: 3, idleTimeout: 5m}
                outlierDetection: {consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, interval: 1s, baseEjectionTime: 1m, maxEjectionPercent: 50, minHealthPercent: 20}
                portLevelSettings:
                - port: {number: 9090}
                  loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 251}}}
              subsets:
              - name: sticky
                labels: {version: v2}
                trafficPolicy:
                  loadBalancer: {consistentHash: {httpCookie: {name: session, ttl: 1h}}}
              - name: by-ip
                labels: {version: v2}
                trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 2048}}}}
              - name: by-query
                labels: {version: v3}
                trafficPolicy: {loadBalancer: {consistentHash: {httpQueryParameterName: user}}}
            """)
        guard case .destinationRule(let rule) = r else { Issue.record("not a DestinationRule: \(r)"); return }
        let policy = try #require(rule.trafficPolicy)
        #expect(policy.loadBalancer == .simple(.roundRobin))
        #expect(policy.connectionPool?.tcp.maxConnections == 100 && policy.connectionPool?.tcp.connectTimeout == .milliseconds(250))
        #expect(policy.connectionPool?.http.http1MaxPendingRequests == 10 && policy.connectionPool?.http.idleTimeout == .seconds(300))
        #expect(policy.outlierDetection?.consecutive5xxErrors == 0 && policy.outlierDetection?.consecutiveGatewayErrors == 3)
        #expect(policy.outlierDetection?.baseEjectionTime == .seconds(60) && policy.outlierDetection?.minHealthPercent == 20)
        #expect(policy.portLevelSettings == [
            DestinationRule.PortTrafficPolicy(port: 9090, loadBalancer: .consistentHash(.init(key: .httpHeaderName("x-user"), algorithm: .maglev(tableSize: 251))))
        ])
        #expect(rule.subsets.map(\.trafficPolicy?.loadBalancer) == [
            .consistentHash(.init(key: .httpCookie(name: "session", path: nil, ttl: .seconds(3600)), algorithm: .ringHash(minimumRingSize: 1024))),
            .consistentHash(.init(key: .useSourceIp, algorithm: .ringHash(minimumRingSize: 2048))),
            .consistentHash(.init(key: .httpQueryParameterName("user"))),
        ])
    }

    // MARK: - Durations

    @Test("durations read the way Go and Gateway API write them", arguments: [
        ("0s", Duration.zero), ("500ms", .milliseconds(500)), ("1s", .seconds(1)), ("1m30s", .seconds(90)),
        ("2h", .seconds(7200)), ("1.5s", .milliseconds(1500)), ("1h1m1s1ms", .milliseconds(3_661_001)),
    ])
    func durations(_ text: String, _ expected: Duration) {
        #expect(ConfigDuration.parse(text) == expected)
        #expect(ConfigDuration.parse(ConfigDuration.text(expected)) == expected)
    }

    @Test("things that are not durations", arguments: ["", "1", "s", "-1s", "1x", "1 s", "1.s", ".5s", "1sm", "10us", "1d", "99999999999999999999h"])
    func notDurations(_ text: String) {
        #expect(ConfigDuration.parse(text) == nil)
    }

    // MARK: - Snapshot

    @Test("the snapshot stores the L7 kinds, finds them by name, and refuses one defined twice")
    func snapshot() throws {
        let text = """
            kind: Service
            metadata: {name: cart, namespace: shop, labels: {ambit.dev/use-waypoint: waypoint}}
            spec: {ports: [{port: 80}]}
            ---
            kind: Gateway
            metadata: {name: waypoint, namespace: shop}
            spec: {gatewayClassName: ambit-waypoint}
            ---
            kind: HTTPRoute
            metadata: {name: cart, namespace: shop}
            spec: {parentRefs: [{kind: Service, name: cart}], rules: [{backendRefs: [{name: cart, port: 80}]}]}
            ---
            kind: GRPCRoute
            metadata: {name: cart, namespace: shop}
            spec: {parentRefs: [{name: waypoint}]}
            ---
            kind: DestinationRule
            metadata: {name: all, namespace: shop}
            spec: {host: "*.shop.svc.cluster.local"}
            ---
            kind: DestinationRule
            metadata: {name: cart, namespace: other}
            spec: {host: cart.shop.svc.cluster.local, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
            """
        let s = try MeshSnapshot(ResourceDecoder.decodeFile(text, file: "f"))
        let cart = try #require(s.service(namespace: "shop", name: "cart"))
        #expect(s.gateways.count == 1 && s.httpRoutes.count == 1 && s.grpcRoutes.count == 1 && s.destinationRules.count == 2)
        #expect(s.waypoint(for: cart)?.metadata.name == "waypoint")
        #expect(s.httpRoutes(attachedTo: cart).map(\.metadata.name) == ["cart"])
        #expect(s.grpcRoutes(attachedTo: s.gateways[0]).map(\.metadata.name) == ["cart"])
        #expect(s.httpRoutes(attachedTo: s.gateways[0]).isEmpty && s.grpcRoutes(attachedTo: cart).isEmpty)
        // An exact host beats a wildcard, even from another namespace.
        #expect(s.destinationRule(for: cart)?.metadata.key == "other/cart")

        for kind in ["Gateway", "HTTPRoute", "GRPCRoute", "DestinationRule"] {
            let doc = text.components(separatedBy: "---\n").first { $0.hasPrefix("kind: \(kind)\n") }!
            #expect(throws: ResourceError(resource: "\(kind) shop/\(kind == "DestinationRule" ? "all" : kind == "Gateway" ? "waypoint" : "cart")",
                                          path: "metadata.name", reason: "defined twice")) {
                _ = try MeshSnapshot(ResourceDecoder.decodeFile(doc + "\n---\n" + doc, file: "f"))
            }
        }
    }
}
