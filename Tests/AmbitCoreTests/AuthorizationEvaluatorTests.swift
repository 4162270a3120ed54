import Testing

@testable import AmbitCore

/// L4 authorization as ztunnel enforces Istio's AuthorizationPolicy: DENY first, then
/// "no ALLOW policy → allow", then "some ALLOW matches → allow", else deny.
@Suite("Authorization at L4")
struct AuthorizationEvaluatorTests {
    /// A policy in namespace `shop`, its spec written as Istio YAML (flow style).
    static func policy(_ spec: String, name: String = "p", namespace: String = "shop") -> AuthorizationPolicy {
        let text = "kind: AuthorizationPolicy\nmetadata: {name: \(name), namespace: \(namespace)}\nspec: \(spec)"
        guard case .authorizationPolicy(let p) = try! ResourceDecoder.decodeFile(text, file: "test").first! else {
            fatalError("not a policy")
        }
        return p
    }

    static func allow(_ rules: String) -> AuthorizationPolicy { policy("{action: ALLOW, rules: \(rules)}", name: "allow") }
    static func deny(_ rules: String) -> AuthorizationPolicy { policy("{action: DENY, rules: \(rules)}", name: "deny") }

    /// A connection to port `port` of 10.0.1.1 from `principal` (Istio form, or nil for
    /// plaintext) at `ip`.
    static func from(_ principal: String?, ip: String = "10.0.0.5", port: Int = 8080) -> AuthorizationEvaluator.Connection {
        .init(
            sourcePrincipal: principal.map { try! SpiffeID(parsing: "spiffe://" + $0) }, sourceIP: IPAddress(ip),
            destinationIP: IPAddress("10.0.1.1"), destinationPort: port)
    }

    static let frontend = "cluster.local/ns/shop/sa/frontend"
    static let stranger = "cluster.local/ns/other/sa/stranger"

    static func allowed(_ policies: [AuthorizationPolicy], _ c: AuthorizationEvaluator.Connection) -> Bool {
        AuthorizationEvaluator.evaluate(policies, c).isAllowed
    }

    // MARK: - Order of decisions

    @Test("with no policy every connection is allowed, plaintext included")
    func noPolicies() {
        #expect(Self.allowed([], Self.from(Self.frontend)))
        #expect(Self.allowed([], Self.from(nil)))
    }

    @Test("a matching DENY wins over a matching ALLOW, and names the policy")
    func denyBeatsAllow() {
        let policies = [Self.allow("[{}]"), Self.deny("[{from: [{source: {namespaces: [shop]}}]}]")]
        #expect(AuthorizationEvaluator.evaluate(policies, Self.from(Self.frontend)) == .deny(reason: "denied by DENY policy shop/deny"))
        #expect(Self.allowed(policies, Self.from(Self.stranger)))
    }

    @Test("once an ALLOW policy applies, a connection it does not match is denied")
    func allowNotMatching() {
        let policies = [Self.allow("[{from: [{source: {principals: [\"\(Self.frontend)\"]}}]}]")]
        #expect(Self.allowed(policies, Self.from(Self.frontend)))
        #expect(AuthorizationEvaluator.evaluate(policies, Self.from(Self.stranger))
            == .deny(reason: "no ALLOW policy matched (applicable: shop/allow)"))
    }

    @Test("an empty rule `{}` matches everything, plaintext included")
    func emptyRule() {
        #expect(Self.allowed([Self.allow("[{}]")], Self.from(nil)))
        #expect(!Self.allowed([Self.deny("[{}]")], Self.from(Self.frontend)))
    }

    @Test("a policy with no rules matches nothing: ALLOW is allow-nothing, DENY denies nothing")
    func noRules() {
        #expect(!Self.allowed([Self.policy("{}")], Self.from(Self.frontend)))
        #expect(Self.allowed([Self.policy("{action: DENY}")], Self.from(Self.frontend)))
    }

    @Test("an AUDIT policy never changes the decision")
    func audit() {
        #expect(Self.allowed([Self.policy("{action: AUDIT, rules: [{}]}")], Self.from(nil)))
    }

    // MARK: - Sources

    @Test("principals match exactly, by prefix* or *suffix, written with or without spiffe://",
          arguments: [
            ("cluster.local/ns/shop/sa/frontend", true), ("spiffe://cluster.local/ns/shop/sa/frontend", true),
            ("cluster.local/ns/shop/sa/front", false), ("cluster.local/ns/shop/*", true), ("cluster.local/ns/other/*", false),
            ("*/sa/frontend", true), ("*/sa/backend", false), ("spiffe://cluster.local/ns/shop/*", true), ("*", true),
          ])
    func principals(pattern: String, matches: Bool) {
        let policies = [Self.allow("[{from: [{source: {principals: [\"\(pattern)\"]}}]}]")]
        #expect(Self.allowed(policies, Self.from(Self.frontend)) == matches)
    }

    @Test("several values of one field are OR'd; different fields are AND'd")
    func orAndAnd() {
        let policies = [Self.allow("[{from: [{source: {namespaces: [shop, other], ipBlocks: [10.0.0.0/24]}}]}]")]
        #expect(Self.allowed(policies, Self.from(Self.frontend)))
        #expect(Self.allowed(policies, Self.from(Self.stranger)))
        #expect(!Self.allowed(policies, Self.from(Self.stranger, ip: "10.0.9.9")))
    }

    @Test("namespaces match the source identity's namespace, with wildcards")
    func namespaces() {
        #expect(Self.allowed([Self.allow("[{from: [{source: {namespaces: [shop]}}]}]")], Self.from(Self.frontend)))
        #expect(Self.allowed([Self.allow("[{from: [{source: {namespaces: [\"sh*\"]}}]}]")], Self.from(Self.frontend)))
        #expect(!Self.allowed([Self.allow("[{from: [{source: {namespaces: [shop]}}]}]")], Self.from(Self.stranger)))
    }

    @Test("notPrincipals and notNamespaces exclude what they name")
    func notForms() {
        let notPrincipal = [Self.allow("[{from: [{source: {notPrincipals: [\"*/sa/stranger\"]}}]}]")]
        #expect(Self.allowed(notPrincipal, Self.from(Self.frontend)))
        #expect(!Self.allowed(notPrincipal, Self.from(Self.stranger)))
        let notNamespace = [Self.deny("[{from: [{source: {notNamespaces: [shop]}}]}]")]
        #expect(Self.allowed(notNamespace, Self.from(Self.frontend)))
        #expect(!Self.allowed(notNamespace, Self.from(Self.stranger)))
    }

    @Test("plaintext (no principal) never matches a principal or namespace rule")
    func plaintext() {
        for source in ["{principals: [\"*\"]}", "{namespaces: [\"*\"]}", "{principals: [\"cluster.local/*\"]}"] {
            #expect(!Self.allowed([Self.allow("[{from: [{source: \(source)}]}]")], Self.from(nil)), "ALLOW \(source)")
            #expect(Self.allowed([Self.deny("[{from: [{source: \(source)}]}]")], Self.from(nil)), "DENY \(source)")
        }
    }

    @Test("ipBlocks and notIpBlocks take CIDR blocks and single addresses, IPv4 and IPv6")
    func ipBlocks() {
        let blocks = [Self.allow("[{from: [{source: {ipBlocks: [10.0.0.0/16, 192.168.1.7, \"fd00::/64\"]}}]}]")]
        #expect(Self.allowed(blocks, Self.from(nil, ip: "10.0.255.1")))
        #expect(Self.allowed(blocks, Self.from(nil, ip: "192.168.1.7")))
        #expect(Self.allowed(blocks, Self.from(nil, ip: "fd00::1:2")))
        #expect(!Self.allowed(blocks, Self.from(nil, ip: "10.1.0.1")))
        #expect(!Self.allowed(blocks, Self.from(nil, ip: "192.168.1.8")))
        #expect(!Self.allowed(blocks, Self.from(nil, ip: "fd00:0:0:1::1")))
        let notBlocks = [Self.allow("[{from: [{source: {notIpBlocks: [10.0.0.0/8]}}]}]")]
        #expect(!Self.allowed(notBlocks, Self.from(nil, ip: "10.9.9.9")))
        #expect(Self.allowed(notBlocks, Self.from(nil, ip: "172.16.0.1")))
    }

    // MARK: - Operations and conditions

    @Test("ports and notPorts match the destination port")
    func ports() {
        let ports = [Self.allow("[{to: [{operation: {ports: [\"8080\", \"9090\"]}}]}]")]
        #expect(Self.allowed(ports, Self.from(nil, port: 9090)))
        #expect(!Self.allowed(ports, Self.from(nil, port: 22)))
        let notPorts = [Self.allow("[{to: [{operation: {notPorts: [\"22\"]}}]}]")]
        #expect(Self.allowed(notPorts, Self.from(nil, port: 8080)))
        #expect(!Self.allowed(notPorts, Self.from(nil, port: 22)))
    }

    @Test("`when` on source.ip takes CIDR blocks")
    func whenSourceIP() {
        let policies = [Self.allow("[{when: [{key: source.ip, values: [10.0.0.0/24]}]}]")]
        #expect(Self.allowed(policies, Self.from(nil, ip: "10.0.0.200")))
        #expect(!Self.allowed(policies, Self.from(nil, ip: "10.0.1.1")))
        let notValues = [Self.allow("[{when: [{key: source.ip, notValues: [10.0.0.5]}]}]")]
        #expect(!Self.allowed(notValues, Self.from(nil, ip: "10.0.0.5")))
        #expect(Self.allowed(notValues, Self.from(nil, ip: "10.0.0.6")))
    }

    @Test("`when` on source.namespace and destination.port")
    func whenNamespaceAndPort() {
        let namespace = [Self.allow("[{when: [{key: source.namespace, values: [shop]}]}]")]
        #expect(Self.allowed(namespace, Self.from(Self.frontend)))
        #expect(!Self.allowed(namespace, Self.from(Self.stranger)))
        #expect(!Self.allowed(namespace, Self.from(nil)))
        let port = [Self.allow("[{when: [{key: destination.port, values: [\"8080\"]}]}]")]
        #expect(Self.allowed(port, Self.from(nil, port: 8080)))
        #expect(!Self.allowed(port, Self.from(nil, port: 8081)))
    }

    @Test("an ALLOW rule with L7 fields never matches at L4", arguments: [
        "[{to: [{operation: {methods: [GET]}}]}]",
        "[{to: [{operation: {ports: [\"8080\"], paths: [/health]}}]}]",
        "[{from: [{source: {requestPrincipals: [\"*\"]}}]}]",
        "[{when: [{key: \"request.headers[x-user]\", values: [admin]}]}]",
    ])
    func allowWithL7(rules: String) {
        #expect(!Self.allowed([Self.allow(rules)], Self.from(Self.frontend)))
    }

    @Test("a DENY rule with L7 fields keeps its L4 part and denies")
    func denyWithL7() {
        let policies = [Self.deny("[{from: [{source: {namespaces: [other]}}], to: [{operation: {methods: [POST]}}]}]")]
        #expect(!Self.allowed(policies, Self.from(Self.stranger)))
        #expect(Self.allowed(policies, Self.from(Self.frontend)), "the L4 part still has to match")
        #expect(!Self.allowed([Self.deny("[{when: [{key: \"request.auth.claims[iss]\", values: [x]}]}]")], Self.from(nil)))
    }

    // MARK: - Which policies apply

    @Test("a policy applies to its namespace when its selector matches, and the root namespace's to all")
    func applicability() {
        let policies = [
            Self.policy("{selector: {matchLabels: {app: web}}}", name: "web-only"),
            Self.policy("{}", name: "whole-namespace"),
            Self.policy("{}", name: "elsewhere", namespace: "other"),
            Self.policy("{}", name: "mesh-wide", namespace: "ambit-system"),
            Self.policy("{selector: {matchLabels: {app: web}}}", name: "mesh-web", namespace: "ambit-system"),
        ]
        func names(_ labels: [String: String]) -> [String] {
            AuthorizationEvaluator.applicable(policies, namespace: "shop", labels: labels, rootNamespace: "ambit-system")
                .map(\.metadata.name)
        }
        #expect(names(["app": "web", "tier": "1"]) == ["web-only", "whole-namespace", "mesh-wide", "mesh-web"])
        #expect(names(["app": "db"]) == ["whole-namespace", "mesh-wide"])
        #expect(names([:]) == ["whole-namespace", "mesh-wide"])
    }
}
