/// Istio's `AuthorizationPolicy`, as users write it.
///
/// Only the model lives here; `AuthorizationEvaluator` decides. L7 fields (methods, paths,
/// hosts, request principals) are kept so a waypoint can enforce them and so the node can
/// tell that a rule needs L7 (which it cannot see) and treat it the safe way.
public struct AuthorizationPolicy: Hashable, Sendable {
    public enum Action: String, Hashable, Sendable, CaseIterable {
        case allow = "ALLOW"
        case deny = "DENY"
        /// Accepted and logged; never changes a decision.
        case audit = "AUDIT"
    }

    public struct Source: Hashable, Sendable {
        public var principals: [String] = []
        public var notPrincipals: [String] = []
        public var namespaces: [String] = []
        public var notNamespaces: [String] = []
        public var ipBlocks: [CIDR] = []
        public var notIpBlocks: [CIDR] = []
        /// JWT principals: L7 only.
        public var requestPrincipals: [String] = []
        public var notRequestPrincipals: [String] = []
        public init() {}

        var hasL7: Bool { !requestPrincipals.isEmpty || !notRequestPrincipals.isEmpty }
    }

    public struct Operation: Hashable, Sendable {
        public var ports: [Int] = []
        public var notPorts: [Int] = []
        public var hosts: [String] = []
        public var notHosts: [String] = []
        public var methods: [String] = []
        public var notMethods: [String] = []
        public var paths: [String] = []
        public var notPaths: [String] = []
        public init() {}

        var hasL7: Bool {
            !(hosts.isEmpty && notHosts.isEmpty && methods.isEmpty && notMethods.isEmpty && paths.isEmpty && notPaths.isEmpty)
        }
    }

    public struct Condition: Hashable, Sendable {
        public var key: String
        public var values: [String]
        public var notValues: [String]
        public init(key: String, values: [String] = [], notValues: [String] = []) {
            self.key = key
            self.values = values
            self.notValues = notValues
        }

        /// The `when` keys a node can evaluate from a TCP connection.
        public static let l4Keys: Set<String> = [
            "source.ip", "source.namespace", "source.principal", "destination.ip", "destination.port",
        ]
        var isL4: Bool { Self.l4Keys.contains(key) }
    }

    public struct Rule: Hashable, Sendable {
        public var from: [Source] = []
        public var to: [Operation] = []
        public var when: [Condition] = []
        public init(from: [Source] = [], to: [Operation] = [], when: [Condition] = []) {
            self.from = from
            self.to = to
            self.when = when
        }

        /// Whether any part of the rule needs to see HTTP.
        public var needsL7: Bool {
            from.contains(where: \.hasL7) || to.contains(where: \.hasL7) || when.contains(where: { !$0.isL4 })
        }
    }

    /// `targetRefs[]`: a resource in the policy's namespace whose waypoint enforces the
    /// policy (Istio's `PolicyTargetReference`).
    public struct TargetReference: Hashable, Sendable, CustomStringConvertible {
        public enum Kind: String, Hashable, Sendable, CaseIterable {
            /// The waypoint itself: every request it serves.
            case gateway = "Gateway"
            /// Requests to one service, at that service's waypoint.
            case service = "Service"
        }
        public var kind: Kind
        public var name: String

        public init(kind: Kind, name: String) {
            self.kind = kind
            self.name = name
        }

        /// `gateway.networking.k8s.io` for a Gateway, the core group (empty) for a Service.
        public var group: String { kind == .gateway ? GatewayAPI.group : "" }
        public var description: String { "\(kind.rawValue) \(name)" }
    }

    public var metadata: ObjectMeta
    /// `selector.matchLabels`; nil applies to every workload in the namespace (or the mesh,
    /// in the root namespace). Never set together with `targetRefs`.
    public var selector: [String: String]?
    /// Non-empty: the policy is a waypoint's (L7), and nodes leave it alone.
    public var targetRefs: [TargetReference]
    public var action: Action
    public var rules: [Rule]

    public init(
        metadata: ObjectMeta, selector: [String: String]? = nil, targetRefs: [TargetReference] = [], action: Action = .allow,
        rules: [Rule] = []
    ) {
        self.metadata = metadata
        self.selector = selector
        self.targetRefs = targetRefs
        self.action = action
        self.rules = rules
    }
}

/// Istio's string match for principals, namespaces and hosts: exact, `*`, `prefix*` or
/// `*suffix`.
enum WildcardMatch {
    static func matches(_ pattern: String, _ value: String) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix("*") { return value.hasPrefix(pattern.dropLast()) }
        if pattern.hasPrefix("*") { return value.hasSuffix(pattern.dropFirst()) }
        return pattern == value
    }
}
