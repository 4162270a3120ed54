/// Decides L4 authorization the way ztunnel does (Istio semantics):
///
/// 1. any matching DENY policy → deny;
/// 2. no ALLOW policy applies to the workload → allow;
/// 3. any matching ALLOW policy → allow;
/// 4. otherwise deny.
///
/// Values inside one field are OR'd, different fields AND'd. The node cannot see HTTP, so a
/// rule that needs L7 is handled the safe way: an ALLOW rule with L7 fields never matches
/// (it cannot be shown to hold), and a DENY rule keeps its L4 part (it denies more, never
/// less).
public struct AuthorizationEvaluator: Sendable {
    /// What the node knows about one connection.
    public struct Connection: Sendable, Hashable {
        /// The verified SPIFFE identity of the source; nil for plaintext.
        public var sourcePrincipal: SpiffeID?
        public var sourceIP: IPAddress?
        public var destinationIP: IPAddress?
        public var destinationPort: Int

        public init(sourcePrincipal: SpiffeID?, sourceIP: IPAddress?, destinationIP: IPAddress?, destinationPort: Int) {
            self.sourcePrincipal = sourcePrincipal
            self.sourceIP = sourceIP
            self.destinationIP = destinationIP
            self.destinationPort = destinationPort
        }
    }

    public enum Decision: Sendable, Hashable {
        case allow
        case deny(reason: String)

        public var isAllowed: Bool { self == .allow }
    }

    /// The policies that apply to one workload: mesh-wide ones from the root namespace and
    /// those of its namespace whose selector matches its labels. Policies with `targetRefs`
    /// belong to waypoints (as in Istio ambient) and never apply at the node.
    public static func applicable(
        _ policies: [AuthorizationPolicy], namespace: String, labels: [String: String], rootNamespace: String
    ) -> [AuthorizationPolicy] {
        policies.filter { policy in
            guard policy.targetRefs.isEmpty else { return false }
            guard policy.metadata.namespace == namespace || policy.metadata.namespace == rootNamespace else { return false }
            guard let selector = policy.selector else { return true }
            return selector.allSatisfy { labels[$0.key] == $0.value }
        }
    }

    public static func evaluate(_ policies: [AuthorizationPolicy], _ connection: Connection) -> Decision {
        for policy in policies where policy.action == .deny {
            if policy.rules.contains(where: { matches($0, connection, droppingL7: false) }) {
                return .deny(reason: "denied by DENY policy \(policy.metadata.key)")
            }
        }
        let allows = policies.filter { $0.action == .allow }
        if allows.isEmpty { return .allow }
        for policy in allows where policy.rules.contains(where: { matches($0, connection, droppingL7: true) }) {
            _ = policy
            return .allow
        }
        let names = allows.map(\.metadata.key).sorted().joined(separator: ", ")
        return .deny(reason: "no ALLOW policy matched (applicable: \(names))")
    }

    // MARK: - Matching

    static func matches(_ rule: AuthorizationPolicy.Rule, _ c: Connection, droppingL7 allowRule: Bool) -> Bool {
        if allowRule && rule.needsL7 { return false }
        if !rule.from.isEmpty && !rule.from.contains(where: { matches($0, c) }) { return false }
        if !rule.to.isEmpty && !rule.to.contains(where: { matches($0, c) }) { return false }
        // A DENY rule keeps only its L4 conditions.
        return rule.when.filter(\.isL4).allSatisfy { matches($0, c) }
    }

    static func matches(_ s: AuthorizationPolicy.Source, _ c: Connection) -> Bool {
        let principal = c.sourcePrincipal.map(principalText)
        let namespace = c.sourcePrincipal?.namespace
        func any(_ patterns: [String], _ value: String?) -> Bool {
            guard let value else { return false }
            return patterns.contains { WildcardMatch.matches(normalisedPrincipal($0), value) }
        }
        func anyNS(_ patterns: [String], _ value: String?) -> Bool {
            guard let value else { return false }
            return patterns.contains { WildcardMatch.matches($0, value) }
        }
        if !s.principals.isEmpty && !any(s.principals, principal) { return false }
        if !s.notPrincipals.isEmpty && any(s.notPrincipals, principal) { return false }
        if !s.namespaces.isEmpty && !anyNS(s.namespaces, namespace) { return false }
        if !s.notNamespaces.isEmpty && anyNS(s.notNamespaces, namespace) { return false }
        if !s.ipBlocks.isEmpty && !(c.sourceIP.map { ip in s.ipBlocks.contains { $0.contains(ip) } } ?? false) { return false }
        if !s.notIpBlocks.isEmpty && (c.sourceIP.map { ip in s.notIpBlocks.contains { $0.contains(ip) } } ?? false) { return false }
        return true
    }

    static func matches(_ o: AuthorizationPolicy.Operation, _ c: Connection) -> Bool {
        if !o.ports.isEmpty && !o.ports.contains(c.destinationPort) { return false }
        if !o.notPorts.isEmpty && o.notPorts.contains(c.destinationPort) { return false }
        return true
    }

    static func matches(_ condition: AuthorizationPolicy.Condition, _ c: Connection) -> Bool {
        let value: String?
        switch condition.key {
        case "source.ip": value = c.sourceIP?.description
        case "source.namespace": value = c.sourcePrincipal?.namespace
        case "source.principal": value = c.sourcePrincipal.map(principalText)
        case "destination.ip": value = c.destinationIP?.description
        case "destination.port": value = String(c.destinationPort)
        default: return false
        }
        func hit(_ patterns: [String]) -> Bool {
            guard let value else { return false }
            return patterns.contains { pattern in
                if condition.key.hasSuffix(".ip"), let block = CIDR(pattern), let ip = IPAddress(value) { return block.contains(ip) }
                return WildcardMatch.matches(condition.key == "source.principal" ? normalisedPrincipal(pattern) : pattern, value)
            }
        }
        if !condition.values.isEmpty && !hit(condition.values) { return false }
        if !condition.notValues.isEmpty && hit(condition.notValues) { return false }
        return true
    }

    /// Istio writes principals without the scheme: `cluster.local/ns/default/sa/sleep`.
    static func principalText(_ id: SpiffeID) -> String {
        String(id.description.dropFirst("spiffe://".count))
    }

    static func normalisedPrincipal(_ pattern: String) -> String {
        pattern.hasPrefix("spiffe://") ? String(pattern.dropFirst("spiffe://".count)) : pattern
    }
}
