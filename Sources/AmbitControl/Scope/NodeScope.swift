import AmbitCore

/// What each node is sent: the rule that keeps a node's config (and its blast radius)
/// proportional to what its pods need.
///
/// A node gets:
/// - the MeshConfig (trust domain, names; never the CA's directory: nodes get certificates
///   from the CA service);
/// - every Namespace (their labels decide enrolment and waypoints);
/// - its own Workloads in full, and every other Workload without its node-local details
///   (network namespace path, resolvers): its pods may connect to any of them, and the
///   node must know each one's address, identity and whether it is in the mesh;
/// - every Service (VIP routing and DNS for any of them may be asked for);
/// - the AuthorizationPolicies and PeerAuthentications of its own workloads' namespaces
///   and of the root namespace, and no others: a node enforces policy only for the pods it
///   serves.
///
/// L7 resources (routes, DestinationRules, Gateways) go to waypoints, not nodes.
public enum NodeScope {
    /// The kinds a node receives at all.
    public static let kinds: Set<String> = ["MeshConfig", "Namespace", "Workload", "Service", "AuthorizationPolicy", "PeerAuthentication"]

    /// The stored resources `node` should hold, each in the form it is sent.
    public static func select(for node: String, stored: [StoredResource], snapshot: MeshSnapshot) -> [ScopedResource] {
        var ownNamespaces: Set<String> = [snapshot.mesh.rootNamespace]
        var ownWorkloads: Set<ResourceKey> = []
        for w in snapshot.workloads where w.node == node {
            ownNamespaces.insert(w.metadata.namespace)
            ownWorkloads.insert(ResourceKey(kind: "Workload", namespace: w.metadata.namespace, name: w.metadata.name))
        }
        var out: [ScopedResource] = []
        out.reserveCapacity(stored.count)
        for resource in stored {
            switch resource.key.kind {
            case "MeshConfig":
                out.append(ScopedResource(resource, .withoutCA))
            case "Workload":
                let own = ownWorkloads.contains(resource.key)
                out.append(ScopedResource(resource, own ? .whole : .withoutNodeDetails))
            case "AuthorizationPolicy", "PeerAuthentication":
                if ownNamespaces.contains(resource.key.namespace) { out.append(ScopedResource(resource, .whole)) }
            case let kind where kinds.contains(kind):
                out.append(ScopedResource(resource, .whole))
            default:
                break
            }
        }
        return out
    }

    /// The stored documents `node` should hold, trimmed as described above.
    public static func resources(for node: String, stored: [StoredResource], snapshot: MeshSnapshot) -> [StoredResource] {
        select(for: node, stored: stored, snapshot: snapshot).map(\.sent)
    }

    /// The identities of the mesh workloads scheduled on `node`: what its CSRs may ask for.
    /// Only enrolled ones: a pod outside the mesh needs no certificate, and a waypoint's
    /// workload (never enrolled) carries the waypoint's identity, which only the waypoint
    /// itself may hold.
    public static func identities(on node: String, in snapshot: MeshSnapshot) -> Set<SpiffeID> {
        Set(snapshot.workloads.filter { $0.node == node && snapshot.isEnrolled($0) }.compactMap { snapshot.identity(of: $0) })
    }
}
