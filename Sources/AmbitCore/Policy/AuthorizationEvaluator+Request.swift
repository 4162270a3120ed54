/// L7 authorization: the same Istio AuthorizationPolicy decision as at L4, for one HTTP
/// request at a waypoint, which sees what the node cannot (method, path, host, headers).
///
/// It lives next to the L4 evaluator because a request is a connection plus HTTP: source,
/// port and the L4 `when` keys are matched by the very same code, so the node and the
/// waypoint can never disagree about a principal or a CIDR.
///
/// What the waypoint still cannot know is handled as Istio does when the information is
/// absent: there is no JWT authentication, so `requestPrincipals` and `request.auth.*`
/// never match (and their `not` forms always do); a `when` key Istio does not define makes
/// an ALLOW rule fail and is dropped from a DENY rule (fail closed, as at L4).
extension AuthorizationEvaluator {
    /// What a waypoint knows about one HTTP request.
    public struct Request: Sendable, Hashable {
        /// The tunnel it came through: source identity and address, destination port.
        public var connection: Connection
        public var method: String
        /// As received, query string included (matching ignores the query, as Envoy does).
        public var path: String
        /// `Host` / `:authority`, possibly with a port.
        public var host: String
        public var headers: [HTTPHeader]

        public init(connection: Connection, method: String, path: String, host: String, headers: [HTTPHeader]) {
            self.connection = connection
            self.method = method
            self.path = path
            self.host = host
            self.headers = headers
        }

        /// The path without `?query` or `#fragment`.
        var pathOnly: Substring { path.prefix { $0 != "?" && $0 != "#" } }

        /// Every value of a header, compared by name case-insensitively.
        func values(of name: String) -> [String] {
            headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
        }
    }

    /// Istio's decision for one request: any matching DENY → deny; no ALLOW applies → allow;
    /// a matching ALLOW → allow; otherwise deny. AUDIT policies never change it.
    public static func evaluate(_ policies: [AuthorizationPolicy], _ request: Request) -> Decision {
        for policy in policies where policy.action == .deny {
            if policy.rules.contains(where: { matches($0, request, allowRule: false) }) {
                return .deny(reason: "denied by DENY policy \(policy.metadata.key)")
            }
        }
        let allows = policies.filter { $0.action == .allow }
        if allows.isEmpty { return .allow }
        if allows.contains(where: { $0.rules.contains { matches($0, request, allowRule: true) } }) { return .allow }
        let names = allows.map(\.metadata.key).sorted().joined(separator: ", ")
        return .deny(reason: "no ALLOW policy matched (applicable: \(names))")
    }

    // MARK: - Matching

    static func matches(_ rule: AuthorizationPolicy.Rule, _ r: Request, allowRule: Bool) -> Bool {
        if !rule.from.isEmpty && !rule.from.contains(where: { matches($0, r) }) { return false }
        if !rule.to.isEmpty && !rule.to.contains(where: { matches($0, r) }) { return false }
        return rule.when.allSatisfy { condition in
            guard let hit = matches(condition, r) else { return !allowRule }
            return hit
        }
    }

    static func matches(_ s: AuthorizationPolicy.Source, _ r: Request) -> Bool {
        // No request is JWT-authenticated here, so it has no request principal.
        if !s.requestPrincipals.isEmpty { return false }
        return matches(s, r.connection)
    }

    static func matches(_ o: AuthorizationPolicy.Operation, _ r: Request) -> Bool {
        guard matches(o, r.connection) else { return false }
        let path = String(r.pathOnly)
        func any(_ patterns: [String], _ value: String) -> Bool { patterns.contains { WildcardMatch.matches($0, value) } }
        if !o.methods.isEmpty && !any(o.methods, r.method) { return false }
        if !o.notMethods.isEmpty && any(o.notMethods, r.method) { return false }
        if !o.paths.isEmpty && !any(o.paths, path) { return false }
        if !o.notPaths.isEmpty && any(o.notPaths, path) { return false }
        if !o.hosts.isEmpty && !hostMatches(o.hosts, r.host) { return false }
        if !o.notHosts.isEmpty && hostMatches(o.notHosts, r.host) { return false }
        return true
    }

    /// Istio compares hosts case-insensitively, and `example.com` also covers
    /// `example.com:8080`: the pattern is tried on the host as sent and without its port.
    static func hostMatches(_ patterns: [String], _ host: String) -> Bool {
        let full = host.lowercased()
        let bare = HostHeader.hostWithoutPort(full)
        return patterns.contains { pattern in
            let p = pattern.lowercased()
            return WildcardMatch.matches(p, full) || WildcardMatch.matches(p, bare)
        }
    }

    /// nil: a key Istio does not define, which the caller treats the fail-closed way.
    static func matches(_ condition: AuthorizationPolicy.Condition, _ r: Request) -> Bool? {
        if condition.isL4 { return matches(condition, r.connection) }
        let values: [String]
        if let name = headerName(condition.key) {
            let sent = r.values(of: name)
            // Envoy joins repeated headers with commas; a pattern may match either form.
            values = sent.count > 1 ? sent + [sent.joined(separator: ",")] : sent
        } else if condition.key == "remote.ip" {
            // No X-Forwarded-For is trusted, so the remote client is the direct source.
            var c = condition
            c.key = "source.ip"
            return matches(c, r.connection)
        } else if Self.absentKeys.contains(condition.key) || condition.key.hasPrefix("request.auth.claims[") {
            values = []
        } else {
            return nil
        }
        func hit(_ patterns: [String]) -> Bool { values.contains { v in patterns.contains { WildcardMatch.matches($0, v) } } }
        if !condition.values.isEmpty && !hit(condition.values) { return false }
        if !condition.notValues.isEmpty && hit(condition.notValues) { return false }
        return true
    }

    /// Istio keys whose value a waypoint without JWT authentication or TLS origination
    /// never has.
    static let absentKeys: Set<String> = [
        "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "connection.sni",
    ]

    /// `request.headers[User-Agent]` → `User-Agent`.
    static func headerName(_ key: String) -> String? {
        let prefix = "request.headers["
        guard key.hasPrefix(prefix), key.hasSuffix("]"), key.count > prefix.count + 1 else { return nil }
        return String(key.dropFirst(prefix.count).dropLast())
    }
}

/// Host headers as sent: `name`, `name:port`, `[v6]:port`.
public enum HostHeader {
    /// The host without a trailing `:port` (brackets kept for IPv6 literals).
    public static func hostWithoutPort(_ host: String) -> String {
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return host }
            return String(host[...close])
        }
        guard let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon,
            host[host.index(after: colon)...].allSatisfy(\.isNumber)
        else { return host }
        return String(host[..<colon])
    }
}
