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
/// - the AuthorizationPolicies and PeerAuthentications that apply to its own workloads
///   (their namespaces, and the root namespace), and no others: a node enforces policy
///   only for the pods it serves.
///
/// L7 resources (routes, DestinationRules, Gateways) go to waypoints, not nodes.
public enum NodeScope {
    public static func resources(for node: String, in snapshot: MeshSnapshot) -> [Resource] {
        var mesh = snapshot.mesh
        mesh.caDirectory = nil
        var out: [Resource] = [.meshConfig(mesh)]
        out += snapshot.namespaces.values.sorted { $0.metadata.name < $1.metadata.name }.map(Resource.namespace)
        var ownNamespaces: Set<String> = [snapshot.mesh.rootNamespace]
        for w in snapshot.workloads {
            if w.node == node {
                ownNamespaces.insert(w.metadata.namespace)
                out.append(.workload(w))
            } else {
                var remote = w
                remote.netns = nil
                remote.dnsServers = []
                out.append(.workload(remote))
            }
        }
        out += snapshot.services.map(Resource.service)
        out += snapshot.authorizationPolicies.filter { ownNamespaces.contains($0.metadata.namespace) }.map(Resource.authorizationPolicy)
        out += snapshot.peerAuthentications.filter { ownNamespaces.contains($0.metadata.namespace) }.map(Resource.peerAuthentication)
        return out
    }

    /// The identities of the workloads scheduled on `node`: what its CSRs may ask for.
    public static func identities(on node: String, in snapshot: MeshSnapshot) -> Set<SpiffeID> {
        Set(snapshot.workloads.filter { $0.node == node }.compactMap { snapshot.identity(of: $0) })
    }
}
