import AmbitControl
import AmbitCore
import Testing

@Suite("What each node is sent")
struct NodeScopeTests {
    static let yaml = """
        kind: MeshConfig
        metadata: {name: mesh}
        spec: {ca: {directory: /secret/ca}}
        ---
        kind: Namespace
        metadata: {name: a, labels: {ambit.dev/dataplane-mode: ambient}}
        ---
        kind: Namespace
        metadata: {name: b}
        ---
        kind: Workload
        metadata: {name: mine, namespace: a}
        spec: {serviceAccount: sa1, node: n1, addresses: [10.0.0.1], netns: /var/run/netns/mine}
        ---
        kind: Workload
        metadata: {name: theirs, namespace: b}
        spec: {serviceAccount: sa2, node: n2, addresses: [10.0.0.2], netns: /var/run/netns/theirs, dnsServers: [10.96.0.10]}
        ---
        kind: Service
        metadata: {name: s, namespace: b}
        spec: {selector: {app: x}, addresses: [10.96.0.5], ports: [{port: 80}]}
        ---
        kind: AuthorizationPolicy
        metadata: {name: for-a, namespace: a}
        spec: {}
        ---
        kind: AuthorizationPolicy
        metadata: {name: for-b, namespace: b}
        spec: {}
        ---
        kind: AuthorizationPolicy
        metadata: {name: mesh-wide, namespace: ambit-system}
        spec: {action: DENY, rules: [{from: [{source: {namespaces: [evil]}}]}]}
        ---
        kind: PeerAuthentication
        metadata: {name: strict-b, namespace: b}
        spec: {mtls: {mode: STRICT}}
        """

    @Test("a node gets its own pods in full, others without node-local details, all services, and only the policies for its pods")
    func scope() throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(Self.yaml, file: "mesh.yaml")
        let snapshot = registry.snapshot
        let stored = registry.store.snapshot().resources
        let scoped = try MeshSnapshot(NodeScope.resources(for: "n1", stored: stored, snapshot: snapshot).map { try ResourceDecoder.decode($0.document) })
        #expect(scoped.mesh.caDirectory == nil, "the CA directory never leaves the control plane")
        #expect(scoped.namespaces.keys.sorted() == ["a", "b"])
        let mine = try #require(scoped.workloads.first { $0.metadata.name == "mine" })
        let theirs = try #require(scoped.workloads.first { $0.metadata.name == "theirs" })
        #expect(mine.netns == "/var/run/netns/mine")
        #expect(theirs.netns == nil && theirs.dnsServers.isEmpty && theirs.addresses.map(\.description) == ["10.0.0.2"])
        #expect(scoped.services.map(\.metadata.name) == ["s"])
        #expect(scoped.authorizationPolicies.map(\.metadata.name).sorted() == ["for-a", "mesh-wide"])
        #expect(scoped.peerAuthentications.isEmpty)
        #expect(NodeScope.identities(on: "n1", in: snapshot).map(\.uri) == ["spiffe://cluster.local/ns/a/sa/sa1"])
    }
}
