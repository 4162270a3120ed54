/// One consistent view of the mesh: every resource a data-plane process knows, indexed for
/// the questions it asks per connection. Immutable; a config change builds a new one.
public struct MeshSnapshot: Sendable {
    public let mesh: MeshConfig
    public let namespaces: [String: Namespace]
    public let workloads: [Workload]
    public let services: [Service]
    public let authorizationPolicies: [AuthorizationPolicy]
    public let peerAuthentications: [PeerAuthentication]
    public let gateways: [Gateway]
    public let httpRoutes: [HTTPRoute]
    public let grpcRoutes: [GRPCRoute]
    public let destinationRules: [DestinationRule]
    public let httpFaults: [HTTPFault]

    /// By `namespace/name`.
    private let serviceByKey: [String: Service]
    private let gatewayByKey: [String: Gateway]
    private let httpFaultByKey: [String: HTTPFault]
    private let workloadByAddress: [IPAddress: Workload]
    private let serviceByAddress: [IPAddress: Service]

    public static let empty = try! MeshSnapshot([])

    /// Builds the snapshot, refusing two resources of one kind with the same name.
    public init(_ resources: [Resource]) throws(ResourceError) {
        var mesh: MeshConfig?
        var namespaces: [String: Namespace] = [:]
        var workloads: [Workload] = []
        var services: [Service] = []
        var policies: [AuthorizationPolicy] = []
        var peers: [PeerAuthentication] = []
        var gateways: [Gateway] = []
        var httpRoutes: [HTTPRoute] = []
        var grpcRoutes: [GRPCRoute] = []
        var destinationRules: [DestinationRule] = []
        var httpFaults: [HTTPFault] = []
        var seen: Set<String> = []
        func unique(_ kind: String, _ key: String) throws(ResourceError) {
            guard seen.insert("\(kind) \(key)").inserted else {
                throw ResourceError(resource: "\(kind) \(key)", path: "metadata.name", reason: "defined twice")
            }
        }
        for resource in resources {
            switch resource {
            case .meshConfig(let m):
                if mesh != nil { throw ResourceError(resource: "MeshConfig", path: "", reason: "only one MeshConfig is allowed") }
                mesh = m
            case .namespace(let n):
                try unique("Namespace", n.metadata.key)
                namespaces[n.metadata.name] = n
            case .workload(let w):
                try unique("Workload", w.metadata.key)
                workloads.append(w)
            case .service(let s):
                try unique("Service", s.metadata.key)
                services.append(s)
            case .authorizationPolicy(let p):
                try unique("AuthorizationPolicy", p.metadata.key)
                policies.append(p)
            case .peerAuthentication(let p):
                try unique("PeerAuthentication", p.metadata.key)
                peers.append(p)
            case .gateway(let g):
                try unique("Gateway", g.metadata.key)
                gateways.append(g)
            case .httpRoute(let r):
                try unique("HTTPRoute", r.metadata.key)
                httpRoutes.append(r)
            case .grpcRoute(let r):
                try unique("GRPCRoute", r.metadata.key)
                grpcRoutes.append(r)
            case .destinationRule(let d):
                try unique("DestinationRule", d.metadata.key)
                destinationRules.append(d)
            case .httpFault(let f):
                try unique("HTTPFault", f.metadata.key)
                httpFaults.append(f)
            }
        }
        var byAddress: [IPAddress: Workload] = [:]
        for w in workloads {
            for a in w.addresses {
                if let other = byAddress[a] {
                    throw ResourceError(
                        resource: "Workload \(w.metadata.key)", path: "spec.addresses",
                        reason: "\(a) is already the address of workload \(other.metadata.key)")
                }
                byAddress[a] = w
            }
        }
        var serviceByAddress: [IPAddress: Service] = [:]
        for s in services {
            for a in s.addresses {
                if byAddress[a] != nil || serviceByAddress[a] != nil {
                    throw ResourceError(resource: "Service \(s.metadata.key)", path: "spec.addresses", reason: "\(a) is already in use")
                }
                serviceByAddress[a] = s
            }
        }
        self.mesh = mesh ?? MeshConfig()
        self.namespaces = namespaces
        self.workloads = workloads
        self.services = services
        self.authorizationPolicies = policies
        self.peerAuthentications = peers
        self.gateways = gateways
        self.httpRoutes = httpRoutes
        self.grpcRoutes = grpcRoutes
        self.destinationRules = destinationRules
        self.httpFaults = httpFaults
        self.httpFaultByKey = Dictionary(httpFaults.map { ($0.metadata.key, $0) }, uniquingKeysWith: { a, _ in a })
        self.serviceByKey = Dictionary(services.map { ($0.metadata.key, $0) }, uniquingKeysWith: { a, _ in a })
        self.gatewayByKey = Dictionary(gateways.map { ($0.metadata.key, $0) }, uniquingKeysWith: { a, _ in a })
        self.workloadByAddress = byAddress
        self.serviceByAddress = serviceByAddress
    }

    // MARK: - Lookups

    public func workload(at address: IPAddress) -> Workload? { workloadByAddress[address] }
    public func service(at address: IPAddress) -> Service? { serviceByAddress[address] }

    /// A workload's SPIFFE identity. A waypoint's comes from the Gateway it serves, never
    /// from its `serviceAccount` field, so the identity a node expects of a waypoint is the
    /// one the control plane issues to it.
    public func identity(of workload: Workload) -> SpiffeID? {
        if let gateway = workload.metadata.labels[MeshLabels.gatewayName] {
            return waypointIdentity(namespace: workload.metadata.namespace, gateway: gateway)
        }
        return try? SpiffeID(trustDomain: mesh.trustDomain, namespace: workload.metadata.namespace, serviceAccount: workload.serviceAccount)
    }

    /// `spiffe://<td>/ns/<namespace>/sa/<gateway>`.
    public func waypointIdentity(namespace: String, gateway: String) -> SpiffeID? {
        try? SpiffeID(trustDomain: mesh.trustDomain, namespace: namespace, serviceAccount: MeshLabels.waypointServiceAccount(gateway: gateway))
    }

    /// Opt-in by label: `ambient` on the workload or its namespace enrols it; `none` on the
    /// workload opts it out. A waypoint is never enrolled: it terminates HBONE itself, and
    /// capturing its traffic would tunnel its tunnels.
    public func isEnrolled(_ workload: Workload) -> Bool {
        if workload.metadata.labels[MeshLabels.gatewayName] != nil { return false }
        switch workload.metadata.labels[MeshLabels.dataplaneMode] {
        case MeshLabels.none: return false
        case MeshLabels.ambient: return true
        default: return namespaces[workload.metadata.namespace]?.metadata.labels[MeshLabels.dataplaneMode] == MeshLabels.ambient
        }
    }

    /// The workloads a service selects (same namespace, labels ⊇ selector). An empty
    /// selector selects nothing, as in Kubernetes.
    public func endpoints(of service: Service) -> [Workload] {
        guard !service.selector.isEmpty else { return [] }
        return workloads.filter { w in
            w.metadata.namespace == service.metadata.namespace && service.selector.allSatisfy { w.metadata.labels[$0.key] == $0.value }
        }.sorted { $0.metadata.key < $1.metadata.key }
    }

    /// The waypoint a service's traffic must go through: the service's own
    /// `ambit.dev/use-waypoint` label, else its namespace's.
    public func waypointName(for service: Service) -> String? {
        service.metadata.labels[MeshLabels.useWaypoint]
            ?? namespaces[service.metadata.namespace]?.metadata.labels[MeshLabels.useWaypoint]
    }

    public func authorizationPolicies(for workload: Workload) -> [AuthorizationPolicy] {
        AuthorizationEvaluator.applicable(
            authorizationPolicies, namespace: workload.metadata.namespace, labels: workload.metadata.labels,
            rootNamespace: mesh.rootNamespace)
    }

    /// The effective mutual-TLS mode for traffic to `port` of `workload`: the most specific
    /// PeerAuthentication wins (workload selector, then namespace, then the root namespace),
    /// `UNSET` inherits, and the mesh default is PERMISSIVE.
    public func mutualTLSMode(for workload: Workload, port: Int) -> MutualTLSMode {
        let labels = workload.metadata.labels
        let selected = peerAuthentications.filter { pa in
            pa.metadata.namespace == workload.metadata.namespace && pa.selector.map { s in s.allSatisfy { labels[$0.key] == $0.value } } == true
        }.sorted { $0.metadata.name < $1.metadata.name }
        if let pa = selected.first {
            if let m = pa.portModes[port], m != .unset { return m }
            if pa.mode != .unset { return pa.mode }
        }
        let levels = [workload.metadata.namespace, mesh.rootNamespace]
        for ns in levels {
            if let pa = peerAuthentications.filter({ $0.metadata.namespace == ns && $0.selector == nil })
                .sorted(by: { $0.metadata.name < $1.metadata.name }).first, pa.mode != .unset
            {
                return pa.mode
            }
        }
        return .permissive
    }

    /// Every mesh service hostname with its VIPs, for DNS.
    public func serviceHostnames() -> [(hostname: String, addresses: [IPAddress])] {
        services.filter { !$0.addresses.isEmpty }.map { ($0.hostname(clusterDomain: mesh.clusterDomain), $0.addresses) }
    }

    // MARK: - L7

    public func service(namespace: String, name: String) -> Service? { serviceByKey["\(namespace)/\(name)"] }
    public func gateway(namespace: String, name: String) -> Gateway? { gatewayByKey["\(namespace)/\(name)"] }

    /// The `HTTPFault` a route filter in `namespace` names, if it is one and exists.
    public func httpFault(_ ref: ExtensionReference, namespace: String) -> HTTPFault? {
        ref.isHTTPFault ? httpFaultByKey["\(namespace)/\(ref.name)"] : nil
    }

    /// The AuthorizationPolicies a waypoint enforces for requests to `service`: those whose
    /// `targetRefs` name the waypoint Gateway or that Service (Istio ambient's attachment;
    /// selector policies are the node's). A reference names a resource in the policy's
    /// own namespace.
    public func authorizationPolicies(atWaypoint waypoint: Gateway, for service: Service) -> [AuthorizationPolicy] {
        authorizationPolicies.filter { policy in
            policy.targetRefs.contains { ref in
                switch ref.kind {
                case .gateway:
                    return policy.metadata.namespace == waypoint.metadata.namespace && ref.name == waypoint.metadata.name
                case .service:
                    return policy.metadata.namespace == service.metadata.namespace && ref.name == service.metadata.name
                }
            }
        }
    }

    /// The waypoint Gateway a service's traffic goes through, if it names one that exists.
    /// Like Istio's `use-waypoint`, the label names a Gateway in the service's namespace.
    public func waypoint(for service: Service) -> Gateway? {
        waypointName(for: service).flatMap { gateway(namespace: service.metadata.namespace, name: $0) }
    }

    /// HTTPRoutes with a parentRef to this Service (Istio ambient's way of attaching a route
    /// to a service's waypoint), by `namespace/name`: the tie-break Gateway API uses after
    /// creation time, which a snapshot does not know.
    public func httpRoutes(attachedTo service: Service) -> [HTTPRoute] {
        httpRoutes.filter { $0.parentRefs.contains { Self.refers($0, to: service) } }.sorted { $0.metadata.key < $1.metadata.key }
    }

    public func grpcRoutes(attachedTo service: Service) -> [GRPCRoute] {
        grpcRoutes.filter { $0.parentRefs.contains { Self.refers($0, to: service) } }.sorted { $0.metadata.key < $1.metadata.key }
    }

    /// HTTPRoutes with a parentRef to this Gateway.
    public func httpRoutes(attachedTo gateway: Gateway) -> [HTTPRoute] {
        httpRoutes.filter { $0.parentRefs.contains { Self.refers($0, to: gateway) } }.sorted { $0.metadata.key < $1.metadata.key }
    }

    public func grpcRoutes(attachedTo gateway: Gateway) -> [GRPCRoute] {
        grpcRoutes.filter { $0.parentRefs.contains { Self.refers($0, to: gateway) } }.sorted { $0.metadata.key < $1.metadata.key }
    }

    private static func refers(_ ref: ParentReference, to service: Service) -> Bool {
        ref.kind == .service && ref.name == service.metadata.name && ref.namespace == service.metadata.namespace
    }

    private static func refers(_ ref: ParentReference, to gateway: Gateway) -> Bool {
        ref.kind == .gateway && ref.name == gateway.metadata.name && ref.namespace == gateway.metadata.namespace
    }

    /// Whether a DestinationRule's host names this service: exactly, or through a `*.`
    /// wildcard (`*` alone matches every service).
    public func destinationRule(_ rule: DestinationRule, matches service: Service) -> Bool {
        let host = rule.fullyQualifiedHost(clusterDomain: mesh.clusterDomain)
        let name = service.hostname(clusterDomain: mesh.clusterDomain)
        return host == "*" || host == name || (host.hasPrefix("*.") && name.hasSuffix(host.dropFirst()))
    }

    /// The DestinationRule that applies to a service, as Istio picks it: an exact host beats
    /// a wildcard, a rule in the service's own namespace beats one elsewhere, then by name.
    public func destinationRule(for service: Service) -> DestinationRule? {
        destinationRules.filter { destinationRule($0, matches: service) }.min { a, b in
            func rank(_ r: DestinationRule) -> (Int, Int, String) {
                (r.fullyQualifiedHost(clusterDomain: mesh.clusterDomain).hasPrefix("*") ? 1 : 0,
                 r.metadata.namespace == service.metadata.namespace ? 0 : 1, r.metadata.key)
            }
            return rank(a) < rank(b)
        }
    }

    /// The services a DestinationRule's host names.
    public func services(matching rule: DestinationRule) -> [Service] {
        services.filter { destinationRule(rule, matches: $0) }
    }
}
