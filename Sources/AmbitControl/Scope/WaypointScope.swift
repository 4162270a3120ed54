import AmbitCore

/// What each waypoint is sent: the rule that gives the L7 proxy for Gateway `<ns>/<name>`
/// everything it routes and enforces, and nothing about the rest of the mesh.
///
/// A waypoint gets:
/// - the MeshConfig (without the CA's directory);
/// - its own Gateway;
/// - the Services that use it (`ambit.dev/use-waypoint` on the Service, else on its
///   Namespace, naming this Gateway), i.e. the traffic it receives;
/// - the HTTPRoutes and GRPCRoutes attached to those Services or to the Gateway;
/// - every backend: the served Services themselves (traffic no route matches goes to the
///   service it was sent to) and every Service a route sends to or mirrors to, and the
///   Workloads behind them, without node-local details (it dials them over HBONE, so it
///   needs each one's address, identity and whether it is in the mesh);
/// - the AuthorizationPolicies, PeerAuthentications and DestinationRules of its own
///   namespace, of its backends' namespaces and of the root namespace, plus any
///   DestinationRule elsewhere whose host names one of its backends (Istio lets a rule in
///   the client's namespace apply);
/// - those Namespaces (their labels decide enrolment and waypoint use).
///
/// Nodes are not sent L7 resources; a waypoint is not sent other namespaces' pods.
public enum WaypointScope {
    /// The stored documents the waypoint for `gateway` should hold; nil when no such
    /// Gateway exists (then there is no waypoint to serve).
    public static func resources(
        forGateway namespace: String, _ name: String, stored: [StoredResource], snapshot: MeshSnapshot
    ) -> [StoredResource]? {
        select(forGateway: namespace, name, stored: stored, snapshot: snapshot)?.map(\.sent)
    }

    /// The same, each resource in the form it is sent.
    public static func select(
        forGateway namespace: String, _ name: String, stored: [StoredResource], snapshot: MeshSnapshot
    ) -> [ScopedResource]? {
        guard let gateway = snapshot.gateway(namespace: namespace, name: name) else { return nil }
        let served = snapshot.services.filter { snapshot.waypoint(for: $0)?.metadata.key == gateway.metadata.key }
        var httpRoutes = snapshot.httpRoutes(attachedTo: gateway)
        var grpcRoutes = snapshot.grpcRoutes(attachedTo: gateway)
        for service in served {
            httpRoutes += snapshot.httpRoutes(attachedTo: service)
            grpcRoutes += snapshot.grpcRoutes(attachedTo: service)
        }
        var backendKeys = Set(served.map(\.metadata.key))
        for reference in httpRoutes.flatMap(destinations) + grpcRoutes.flatMap(destinations) where reference.isService {
            backendKeys.insert("\(reference.namespace)/\(reference.name)")
        }
        let backends = snapshot.services.filter { backendKeys.contains($0.metadata.key) }
        let endpoints = Set(backends.flatMap { snapshot.endpoints(of: $0) }.map(\.metadata.key))
        let namespaces = Set([namespace, snapshot.mesh.rootNamespace] + backends.map(\.metadata.namespace))
        let rules = Set(
            snapshot.destinationRules.filter { rule in
                namespaces.contains(rule.metadata.namespace) || backends.contains { snapshot.destinationRule(rule, matches: $0) }
            }.map(\.metadata.key))
        let routeKeys = Set(httpRoutes.map(\.metadata.key)).union(grpcRoutes.map { "GRPCRoute \($0.metadata.key)" })

        var out: [ScopedResource] = []
        for resource in stored {
            let key = resource.key
            let namespaced = "\(key.namespace)/\(key.name)"
            var form = ScopedResource.Form.whole
            switch key.kind {
            case "MeshConfig":
                form = .withoutCA
            case "Namespace":
                guard namespaces.contains(key.name) else { continue }
            case "Gateway":
                guard namespaced == gateway.metadata.key else { continue }
            case "Service":
                guard backendKeys.contains(namespaced) else { continue }
            case "Workload":
                guard endpoints.contains(namespaced) else { continue }
                form = .withoutNodeDetails
            case "HTTPRoute":
                guard routeKeys.contains(namespaced) else { continue }
            case "GRPCRoute":
                guard routeKeys.contains("GRPCRoute \(namespaced)") else { continue }
            case "DestinationRule":
                guard rules.contains(namespaced) else { continue }
            case "AuthorizationPolicy", "PeerAuthentication":
                guard namespaces.contains(key.namespace) else { continue }
            default:
                continue
            }
            out.append(ScopedResource(resource, form))
        }
        return out
    }

    /// Where a route's traffic may go: its rules' backends and every mirror target.
    private static func destinations(_ route: HTTPRoute) -> [BackendReference] {
        route.rules.flatMap { rule in
            rule.backendRefs.map(\.backend) + mirrors(rule.filters) + rule.backendRefs.flatMap { mirrors($0.filters) }
        }
    }

    private static func destinations(_ route: GRPCRoute) -> [BackendReference] {
        route.rules.flatMap { rule in
            rule.backendRefs.map(\.backend) + mirrors(rule.filters) + rule.backendRefs.flatMap { mirrors($0.filters) }
        }
    }

    private static func mirrors(_ filters: [HTTPRoute.Filter]) -> [BackendReference] {
        var out: [BackendReference] = []
        for case .requestMirror(let mirror) in filters { out.append(mirror.backendRef) }
        return out
    }

    private static func mirrors(_ filters: [GRPCRoute.Filter]) -> [BackendReference] {
        var out: [BackendReference] = []
        for case .requestMirror(let mirror) in filters { out.append(mirror.backendRef) }
        return out
    }
}
