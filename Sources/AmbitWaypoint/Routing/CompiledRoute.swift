import AmbitCore

/// One HTTPRoute or GRPCRoute, as far as one service at one waypoint is concerned: where
/// it applies (ports, host names) and its rules, compiled.
struct CompiledRoute: Sendable {
    /// A rule: its actions and backends, shared by its matches.
    struct Rule: Sendable {
        let action: RouteRule
        let backends: [RouteBackend]
    }

    /// One match of one rule, what precedence orders.
    struct Candidate: Sendable {
        let route: Int
        let rule: Int
        let matcher: RequestMatcher
    }

    let kind: String
    let key: String
    let isGRPC: Bool
    /// Service ports the route is limited to by its parentRefs; nil: every port.
    let ports: Set<Int>?
    /// Empty: every host.
    let hostnames: [String]
    let rules: [Rule]

    func applies(to request: RouteRequest) -> Bool {
        if let ports, !ports.contains(request.port) { return false }
        return hostnames.isEmpty || hostnames.contains { HostnameMatch.intersects($0, request.host) }
    }

    init(_ route: HTTPRoute, ports: Set<Int>?, in snapshot: MeshSnapshot) {
        kind = "HTTPRoute"
        key = route.metadata.key
        isGRPC = false
        self.ports = ports
        hostnames = route.hostnames
        let ns = route.metadata.namespace
        rules = route.rules.enumerated().map { index, rule in
            let prefix = rule.matches.count == 1 && rule.matches[0].path.type == .pathPrefix ? rule.matches[0].path.value : nil
            let action = RouteRule(
                routeKind: "HTTPRoute", routeKey: route.metadata.key, ruleIndex: index, ruleName: rule.name,
                filters: RouteFilters(rule.filters, namespace: ns, in: snapshot), timeouts: rule.timeouts, retry: rule.retry,
                matchedPrefix: prefix)
            let backends = rule.backendRefs.map { RouteBackend($0.backend, filters: RouteFilters($0.filters, namespace: ns, in: snapshot), in: snapshot) }
            return Rule(action: action, backends: backends)
        }
        candidatesByRule = route.rules.map { $0.matches.map(RequestMatcher.init) }
    }

    init(_ route: GRPCRoute, ports: Set<Int>?, in snapshot: MeshSnapshot) {
        kind = "GRPCRoute"
        key = route.metadata.key
        isGRPC = true
        self.ports = ports
        hostnames = route.hostnames
        rules = route.rules.enumerated().map { index, rule in
            let action = RouteRule(
                routeKind: "GRPCRoute", routeKey: route.metadata.key, ruleIndex: index, ruleName: rule.name,
                filters: RouteFilters(rule.filters), timeouts: HTTPRoute.Timeouts(), retry: nil, matchedPrefix: nil)
            let backends = rule.backendRefs.map { RouteBackend($0.backend, filters: RouteFilters($0.filters), in: snapshot) }
            return Rule(action: action, backends: backends)
        }
        // A GRPCRoute rule without matches matches every call.
        candidatesByRule = route.rules.map { rule in
            rule.matches.isEmpty ? [RequestMatcher(GRPCRoute.Match())] : rule.matches.map(RequestMatcher.init)
        }
    }

    /// The compiled matches of each rule, by rule index.
    let candidatesByRule: [[RequestMatcher]]
}
