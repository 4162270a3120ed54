import Foundation
import NIOConcurrencyHelpers

/// A small cluster built from network namespaces, for root-only tests: a fabric (one Linux
/// bridge), nodes attached to it, and pods attached to their node.
///
/// ```
///   pod 10.244.1.1 ─eth0══pod1─ node1 10.250.0.1 ─fabric0══n1─┐
///   pod 10.244.1.2 ─eth0══pod2─┘                              br0 (fabric)
///   pod 10.244.2.1 ─eth0══pod1─ node2 10.250.0.2 ─fabric0══n2─┘
/// ```
///
/// Node N (1-based) owns pod subnet 10.244.N.0/24 and fabric address 10.250.0.N/24, and
/// routes every other node's pod subnet via that node's fabric address, the way a
/// cluster's CNI does without an overlay. Pods are wired Calico-style: the pod's only
/// address is its /32, its default route goes through the link-local gateway 169.254.1.1,
/// which the node answers on every pod-side veth; the node routes each pod's /32 to its
/// veth. Nothing is created in the caller's own namespace, and every namespace is named
/// `amb-<pid>-<index>-...`, so topologies run concurrently with each other and with other
/// test processes. IPv6 is off on the links (captures carry only the test's traffic).
///
/// One topology per test; always `destroy()` it, or use `withTopology`.
public final class Topology: Sendable {
    /// Every namespace of this topology starts with this.
    public let prefix: String
    /// The namespace holding the bridge that connects the nodes.
    public let fabricNetnsName: String
    public var fabricNetnsPath: String { "\(TopologyNames.netnsDirectory)/\(fabricNetnsName)" }
    /// The bridge in the fabric namespace.
    public static let bridge = "br0"
    /// Node fabric addresses are 10.250.0.N in this subnet.
    public static let fabricSubnet = "10.250.0.0/24"

    let context: TopologyContext
    private let nodesBox = NIOLockedValueBox<[Node]>([])

    /// Nodes in the order they were added.
    public var nodes: [Node] { nodesBox.withLockedValue { $0 } }
    /// Every pod on every node.
    public var pods: [Pod] { nodes.flatMap(\.pods) }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }
    public func pod(named name: String, namespace: String? = nil) -> Pod? {
        pods.first { $0.name == name && (namespace == nil || $0.namespace == namespace) }
    }

    // MARK: - Skipping

    /// True when `AMBIT_SKIP_ROOT_TESTS=1`: the one way root-only tests are skipped.
    /// Use it in a trait: `@Test(.disabled(if: Topology.rootTestsSkipped, "AMBIT_SKIP_ROOT_TESTS=1"))`.
    public static var rootTestsSkipped: Bool { TopologyRequirements.skipRequested() }

    /// False when `AMBIT_SKIP_ROOT_TESTS=1` (the test should return early); otherwise checks
    /// the prerequisites and throws `TopologyUnavailable` naming what is missing.
    public static func requirementsOrSkip() throws -> Bool {
        if rootTestsSkipped { return false }
        try TopologyRequirements.verify()
        return true
    }

    // MARK: - Building

    /// Checks prerequisites, sweeps namespaces that dead test runs left behind, and builds
    /// the fabric. Throws `TopologyUnavailable` when this machine cannot host topologies.
    public static func make() async throws -> Topology {
        try TopologyRequirements.verify()
        await sweepLeftovers()
        let topology = try Topology(context: TopologyContext(prefix: TopologyNames.freshPrefix()))
        do {
            try await topology.buildFabric()
        } catch {
            try? await topology.destroy()
            throw error
        }
        return topology
    }

    private init(context: TopologyContext) {
        self.context = context
        self.prefix = context.prefix
        self.fabricNetnsName = context.prefix + "fabric"
    }

    private func buildFabric() async throws {
        do {
            try await context.createNamespace(fabricNetnsName)
        } catch {
            // The first namespace is the probe for "can this machine create namespaces at
            // all" (a container without CAP_SYS_ADMIN, a read-only /var/run).
            throw TopologyUnavailable(missing: [TopologyRequirements.Missing(
                what: "cannot create a network namespace (\(error))",
                fix: "run as root with CAP_SYS_ADMIN and a writable /var/run/netns (in a container: --privileged), or set \(TopologyRequirements.skipVariable)=1 to skip them on purpose")])
        }
        try await context.setSysctls(Self.linkDefaults, in: fabricNetnsName)
        try await context.ip("-n", fabricNetnsName, "link", "add", Self.bridge, "type", "bridge")
        try await context.ip("-n", fabricNetnsName, "link", "set", Self.bridge, "up")
    }

    /// Applied in every namespace before its links exist, so the links inherit them: no
    /// IPv6 (no router solicitations or MLD in captures), no reverse-path filtering (the
    /// routes are asymmetric by design while a mesh redirects traffic).
    static let linkDefaults: [(key: String, value: String)] = [
        ("net.ipv6.conf.default.disable_ipv6", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
    ]

    /// Adds a node: a namespace with a veth to the fabric bridge, forwarding on, and routes
    /// to every other node's pod subnet (the other nodes get a route to this one's).
    @discardableResult
    public func addNode(_ name: String) async throws -> Node {
        try TopologyNames.validate(name, what: "node")
        let index = try nodesBox.withLockedValue { nodes -> Int in
            guard !nodes.contains(where: { $0.name == name }) else { throw TestFailure("the topology already has a node named \(name)") }
            return nodes.count + 1
        }
        guard index <= 250 else { throw TestFailure("a topology holds at most 250 nodes") }
        let node = Node(name: name, number: index, netnsName: "\(prefix)\(name)", fabricNetnsName: fabricNetnsName, context: context)
        try await node.build()
        // Registered only once configured, then routes both ways with `replace`: whichever
        // of two concurrently added nodes registers last sees the other, so routes are
        // complete however the additions interleave.
        let all = try nodesBox.withLockedValue { nodes -> [Node] in
            guard !nodes.contains(where: { $0.number == index }) else {
                throw TestFailure("nodes were added concurrently with the same index; add nodes from one task")
            }
            nodes.append(node)
            return nodes
        }
        for other in all where other !== node {
            try await other.route(to: node)
            try await node.route(to: other)
        }
        return node
    }

    // MARK: - Teardown

    /// Kills spawned processes, closes in-process servers, deletes every namespace this
    /// topology created, and checks that none with its prefix and no process remain.
    /// Idempotent; a second call retries whatever the first could not remove.
    public func destroy() async throws {
        try await context.tearDown()
    }

    /// Deletes namespaces named `amb-<pid>-...` whose pid is no longer alive: what test
    /// runs that crashed or were killed left behind. Returns the names it deleted.
    @discardableResult
    public static func sweepLeftovers() async -> [String] {
        var deleted: [String] = []
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-sweep-\(getpid())").path
        for name in TopologyNames.leftovers(in: TopologyNames.namespaces()) {
            guard let process = try? TestProcess.spawn(["ip", "netns", "delete", name], outputPrefix: output) else { continue }
            if (try? await process.waitForExit(timeout: 10))?.succeeded == true { deleted.append(name) }
            try? FileManager.default.removeItem(atPath: process.stdoutPath)
            try? FileManager.default.removeItem(atPath: process.stderrPath)
        }
        return deleted
    }
}

/// Runs `body` with a fresh topology and always destroys it, also when `body` throws (the
/// body's error wins over a teardown error then).
public func withTopology<T>(_ body: (Topology) async throws -> T) async throws -> T {
    let topology = try await Topology.make()
    let result: T
    do {
        result = try await body(topology)
    } catch {
        try? await topology.destroy()
        throw error
    }
    try await topology.destroy()
    return result
}
