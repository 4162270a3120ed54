import AmbitCore

/// The mesh the benchmark applies: one ambient namespace, `nodes` nodes each running
/// `workloadsPerNode` pods, and `services` services selecting them round-robin, so every
/// node has pods behind most services (as in a real cluster, where scoping by node still
/// leaves each node every Service and every other pod's address).
struct BenchMesh {
    let nodes: Int
    let workloadsPerNode: Int
    let services: Int
    let namespace = "bench"

    var workloadCount: Int { nodes * workloadsPerNode }

    static func nodeName(_ i: Int) -> String { "n\(i)" }

    /// Every document, as one multi-document YAML text per batch of at most `batch`
    /// documents (an apply of 10,000 workloads in one message would pass gRPC's default
    /// 4 MiB limit; the control plane applies each batch atomically anyway).
    func batches(of batch: Int) -> [String] {
        var docs = [
            "kind: Namespace\nmetadata: {name: \(namespace), labels: {ambit.dev/dataplane-mode: ambient}}",
            policy(round: 0),
        ]
        for s in 0..<services {
            docs.append(
                "kind: Service\nmetadata: {name: s\(s), namespace: \(namespace)}\nspec: {selector: {app: s\(s)}, addresses: [10.96.\(s / 250).\(s % 250 + 1)], ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]}"
            )
        }
        for n in 0..<nodes {
            for i in 0..<workloadsPerNode {
                let g = n * workloadsPerNode + i
                docs.append(
                    "kind: Workload\nmetadata: {name: w\(g), namespace: \(namespace), labels: {app: s\(g % max(services, 1)), version: v1}}\nspec: {serviceAccount: sa\(g % 10), node: \(Self.nodeName(n)), addresses: [\(Self.address(g))], netns: /var/run/netns/w\(g)}"
                )
            }
        }
        return stride(from: 0, to: docs.count, by: batch).map { docs[$0..<min($0 + batch, docs.count)].joined(separator: "\n---\n") }
    }

    /// The change whose propagation is timed: an L4 policy of the namespace every node has
    /// pods in, so every node must receive it (`NodeScope`), with a new principal each round.
    func policy(round: Int) -> String {
        "kind: AuthorizationPolicy\nmetadata: {name: callers, namespace: \(namespace)}\nspec: {action: ALLOW, rules: [{from: [{source: {principals: [cluster.local/ns/\(namespace)/sa/caller-\(round)]}}]}]}"
    }

    /// 10.a.b.c, unique per workload, never a network or broadcast-looking .0/.255.
    static func address(_ g: Int) -> String { "10.\(g / 62500 + 1).\(g / 250 % 250).\(g % 250 + 1)" }
}
