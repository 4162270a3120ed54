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

    /// The stored documents `node` should hold, trimmed as described above.
    public static func resources(for node: String, stored: [StoredResource], snapshot: MeshSnapshot) -> [StoredResource] {
        var ownNamespaces: Set<String> = [snapshot.mesh.rootNamespace]
        for w in snapshot.workloads where w.node == node { ownNamespaces.insert(w.metadata.namespace) }
        let ownWorkloads = Set(snapshot.workloads.filter { $0.node == node }.map(\.metadata.key))
        var out: [StoredResource] = []
        for resource in stored where kinds.contains(resource.key.kind) {
            var document = resource.document
            switch resource.key.kind {
            case "MeshConfig":
                document = document.removing(["spec", "ca"])
            case "Workload" where !ownWorkloads.contains("\(resource.key.namespace)/\(resource.key.name)"):
                document = document.removing(["spec", "netns"]).removing(["spec", "dnsServers"])
            case "AuthorizationPolicy", "PeerAuthentication":
                guard ownNamespaces.contains(resource.key.namespace) else { continue }
            default:
                break
            }
            out.append(StoredResource(key: resource.key, labels: resource.labels, document: document, resourceVersion: resource.resourceVersion))
        }
        return out
    }

    /// The identities of the mesh workloads scheduled on `node`: what its CSRs may ask for.
    /// Only enrolled ones: a pod outside the mesh needs no certificate, and a waypoint's
    /// workload (never enrolled) carries the waypoint's identity, which only the waypoint
    /// itself may hold.
    public static func identities(on node: String, in snapshot: MeshSnapshot) -> Set<SpiffeID> {
        Set(snapshot.workloads.filter { $0.node == node && snapshot.isEnrolled($0) }.compactMap { snapshot.identity(of: $0) })
    }
}

extension ConfigValue {
    /// This value with the field at `path` (a chain of map keys) removed, if present.
    func removing(_ path: [String]) -> ConfigValue {
        guard let first = path.first, case .map(var pairs) = self, let index = pairs.firstIndex(where: { $0.0 == first }) else {
            return self
        }
        if path.count == 1 {
            pairs.remove(at: index)
        } else {
            pairs[index].1 = pairs[index].1.removing(Array(path.dropFirst()))
        }
        return .map(pairs)
    }
}
