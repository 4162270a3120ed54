import AmbitCore

/// Which pods to enrol and un-enrol: the pure half of reconciliation.
///
/// Given the snapshot and what is enrolled now, it says what to change. A pod is wanted
/// when it runs on this node, is opted in by label, and has a network namespace path. A
/// pod whose namespace path, identity or address changed is re-enrolled (removed, then
/// added), because its listeners and certificate belong to the old values.
public struct EnrolmentPlan: Equatable, Sendable {
    /// A pod as enrolment sees it: what its listeners and rules depend on.
    public struct Target: Hashable, Sendable {
        public let key: String
        public let netns: String
        public let identity: SpiffeID
        public let addresses: [IPAddress]
    }

    public var enrol: [Target] = []
    public var remove: [String] = []

    public var isEmpty: Bool { enrol.isEmpty && remove.isEmpty }

    public static func wanted(in snapshot: MeshSnapshot, node: String) -> [String: Target] {
        var out: [String: Target] = [:]
        for w in snapshot.workloads where w.node == node && snapshot.isEnrolled(w) {
            guard let netns = w.netns, let identity = snapshot.identity(of: w) else { continue }
            out[w.metadata.key] = Target(key: w.metadata.key, netns: netns, identity: identity, addresses: w.addresses)
        }
        return out
    }

    public static func make(wanted: [String: Target], current: [String: Target]) -> EnrolmentPlan {
        var plan = EnrolmentPlan()
        for (key, target) in current.sorted(by: { $0.key < $1.key }) where wanted[key] != target {
            plan.remove.append(key)
        }
        for (key, target) in wanted.sorted(by: { $0.key < $1.key }) where current[key] != target {
            plan.enrol.append(target)
        }
        return plan
    }
}
