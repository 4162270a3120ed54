import Testing

@testable import AmbitCore

/// L7 authorization as a waypoint enforces Istio's AuthorizationPolicy on each request:
/// the L4 order of decisions, plus methods, paths, hosts and request headers.
@Suite("Authorization at L7")
struct L7AuthorizationTests {
    static func policy(_ spec: String, name: String) -> AuthorizationPolicy {
        AuthorizationEvaluatorTests.policy(spec, name: name)
    }
    static func allow(_ rules: String) -> AuthorizationPolicy { policy("{action: ALLOW, rules: \(rules)}", name: "allow") }
    static func deny(_ rules: String) -> AuthorizationPolicy { policy("{action: DENY, rules: \(rules)}", name: "deny") }

    static let frontend = "cluster.local/ns/shop/sa/frontend"
    static let stranger = "cluster.local/ns/other/sa/stranger"

    /// A request from `principal` at 10.0.0.5 to port 8080.
    static func request(
        _ method: String = "GET", _ path: String = "/", host: String = "cart.shop.svc.cluster.local", from principal: String? = frontend,
        headers: [(String, String)] = []
    ) -> AuthorizationEvaluator.Request {
        .init(
            connection: AuthorizationEvaluatorTests.from(principal), method: method, path: path, host: host,
            headers: headers.map { HTTPHeader(name: $0.0, value: $0.1) })
    }

    static func allowed(_ policies: [AuthorizationPolicy], _ r: AuthorizationEvaluator.Request) -> Bool {
        AuthorizationEvaluator.evaluate(policies, r).isAllowed
    }

    // MARK: - Order of decisions

    @Test("no ALLOW policy: allowed")
    func noAllow() {
        #expect(Self.allowed([], Self.request()))
        #expect(Self.allowed([Self.deny("[{to: [{operation: {methods: [DELETE]}}]}]")], Self.request("GET")))
    }

    @Test("DENY wins over a matching ALLOW")
    func denyWins() {
        let policies = [Self.allow("[{to: [{operation: {paths: [\"/admin*\"]}}]}]"), Self.deny("[{to: [{operation: {paths: [\"/admin/*\"]}}]}]")]
        #expect(AuthorizationEvaluator.evaluate(policies, Self.request("GET", "/admin/users")) == .deny(reason: "denied by DENY policy shop/deny"))
        #expect(Self.allowed(policies, Self.request("GET", "/admin")))
    }

    @Test("ALLOW policies exist but none matches: denied")
    func allowNoneMatches() {
        let policies = [Self.allow("[{to: [{operation: {methods: [GET]}}]}]")]
        #expect(AuthorizationEvaluator.evaluate(policies, Self.request("POST")) == .deny(reason: "no ALLOW policy matched (applicable: shop/allow)"))
    }

    @Test("AUDIT never changes the decision")
    func audit() {
        let audit = Self.policy("{action: AUDIT, rules: [{}]}", name: "audit")
        #expect(Self.allowed([audit], Self.request()))
        #expect(!Self.allowed([audit, Self.allow("[{to: [{operation: {methods: [PUT]}}]}]")], Self.request("GET")))
    }

    // MARK: - Operations

    @Test("methods and notMethods")
    func methods() {
        let p = [Self.allow("[{to: [{operation: {methods: [GET, HEAD]}}]}]")]
        #expect(Self.allowed(p, Self.request("HEAD")))
        #expect(!Self.allowed(p, Self.request("DELETE")))
        let not = [Self.allow("[{to: [{operation: {notMethods: [DELETE]}}]}]")]
        #expect(Self.allowed(not, Self.request("GET")) && !Self.allowed(not, Self.request("DELETE")))
    }

    @Test("paths: exact, prefix*, *suffix and *; the query string is not part of the path", arguments: [
        ("/api/v1", "/api/v1", true), ("/api/v1", "/api/v1/x", false), ("/api/v1", "/api/v1?page=2", true),
        ("/api/*", "/api/v1", true), ("/api/*", "/apis", false), ("*.png", "/img/a.png", true), ("*.png", "/img/a.png.txt", false),
        ("*", "/anything", true),
    ])
    func paths(pattern: String, path: String, expected: Bool) {
        #expect(Self.allowed([Self.allow("[{to: [{operation: {paths: [\"\(pattern)\"]}}]}]")], Self.request("GET", path)) == expected)
    }

    @Test("notPaths excludes")
    func notPaths() {
        let p = [Self.allow("[{to: [{operation: {notPaths: [\"/internal/*\"]}}]}]")]
        #expect(Self.allowed(p, Self.request("GET", "/public")) && !Self.allowed(p, Self.request("GET", "/internal/x")))
    }

    @Test("hosts compare case-insensitively and ignore the request's port", arguments: [
        ("cart.example.com", "cart.example.com", true), ("cart.example.com", "CART.Example.com", true),
        ("cart.example.com", "cart.example.com:8080", true), ("cart.example.com:8080", "cart.example.com:8080", true),
        ("cart.example.com:8080", "cart.example.com:9090", false), ("*.example.com", "Cart.example.com:80", true),
        ("cart.example.com", "cart.example.org", false),
    ])
    func hosts(pattern: String, host: String, expected: Bool) {
        #expect(Self.allowed([Self.allow("[{to: [{operation: {hosts: [\"\(pattern)\"]}}]}]")], Self.request(host: host)) == expected)
    }

    @Test("operation ports still count at L7")
    func ports() {
        #expect(Self.allowed([Self.allow("[{to: [{operation: {ports: [\"8080\"], methods: [GET]}}]}]")], Self.request()))
        #expect(!Self.allowed([Self.allow("[{to: [{operation: {ports: [\"9090\"], methods: [GET]}}]}]")], Self.request()))
    }

    // MARK: - Sources

    @Test("principals, namespaces and their not forms use the mTLS identity")
    func principals() {
        let p = [Self.allow("[{from: [{source: {principals: [\"\(Self.frontend)\"]}}], to: [{operation: {methods: [GET]}}]}]")]
        #expect(Self.allowed(p, Self.request(from: Self.frontend)))
        #expect(!Self.allowed(p, Self.request(from: Self.stranger)))
        #expect(!Self.allowed(p, Self.request(from: nil)))
        let notNS = [Self.deny("[{from: [{source: {notNamespaces: [shop]}}], to: [{operation: {paths: [\"/admin*\"]}}]}]")]
        #expect(!Self.allowed(notNS, Self.request("GET", "/admin", from: Self.stranger)))
        #expect(Self.allowed(notNS, Self.request("GET", "/admin", from: Self.frontend)))
        #expect(Self.allowed(notNS, Self.request("GET", "/shop", from: Self.stranger)))
    }

    @Test("no request is JWT-authenticated: requestPrincipals never match, notRequestPrincipals always do")
    func requestPrincipals() {
        #expect(!Self.allowed([Self.allow("[{from: [{source: {requestPrincipals: [\"*\"]}}]}]")], Self.request()))
        #expect(!Self.allowed([Self.deny("[{from: [{source: {notRequestPrincipals: [\"*\"]}}]}]")], Self.request()))
    }

    // MARK: - Conditions

    @Test("request.headers[NAME]: the name case-insensitively, values with Istio's wildcards, repeated headers")
    func headerConditions() {
        let p = [Self.allow("[{when: [{key: \"request.headers[X-Tenant]\", values: [\"gold-*\"]}]}]")]
        #expect(Self.allowed(p, Self.request(headers: [("x-tenant", "gold-eu")])))
        #expect(!Self.allowed(p, Self.request(headers: [("x-tenant", "silver")])))
        #expect(!Self.allowed(p, Self.request()))
        #expect(Self.allowed(p, Self.request(headers: [("x-tenant", "silver"), ("X-Tenant", "gold-us")])))
        let not = [Self.deny("[{when: [{key: \"request.headers[user-agent]\", notValues: [\"curl/*\"]}]}]")]
        #expect(Self.allowed(not, Self.request(headers: [("User-Agent", "curl/8.5")])))
        #expect(!Self.allowed(not, Self.request(headers: [("User-Agent", "Mozilla/5.0")])))
    }

    @Test("L4 keys in when are evaluated the same way as at the node")
    func l4Keys() {
        #expect(Self.allowed([Self.allow("[{when: [{key: source.ip, values: [10.0.0.0/24]}]}]")], Self.request()))
        #expect(Self.allowed([Self.allow("[{when: [{key: remote.ip, values: [10.0.0.5]}]}]")], Self.request()))
        #expect(!Self.allowed([Self.allow("[{when: [{key: destination.port, values: [\"9090\"]}]}]")], Self.request()))
        #expect(Self.allowed([Self.allow("[{when: [{key: source.principal, values: [\"cluster.local/ns/shop/*\"]}]}]")], Self.request()))
    }

    @Test("a key Istio does not define fails an ALLOW rule and is dropped from a DENY rule")
    func unknownKey() {
        #expect(!Self.allowed([Self.allow("[{when: [{key: request.method, values: [GET]}]}]")], Self.request("GET")))
        #expect(!Self.allowed([Self.deny("[{when: [{key: request.method, values: [POST]}]}]")], Self.request("GET")))
        #expect(!Self.allowed([Self.allow("[{when: [{key: \"request.auth.claims[iss]\", values: [\"*\"]}]}]")], Self.request()))
    }
}
