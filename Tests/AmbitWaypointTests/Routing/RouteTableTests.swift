import AmbitCore
import NIOHTTP1
import Testing

@testable import AmbitWaypoint

/// Route matching with Gateway API's precedence, one rule of the order per test, and the
/// waypoint's attachment rules (Service over Gateway, ports, hostnames, the default).
@Suite("Route table")
struct RouteTableTests {
    typealias R = Routing
    static func backend(_ name: String) -> String { "{backendRefs: [{name: \(name), port: 8080}]}" }

    // MARK: - Attachment and the default

    @Test("no route at all: the request goes to the service it was sent to")
    func defaultRoute() throws {
        let table = try R.table("")
        #expect(R.outcome(table, R.request()) == "cart:80 (default)")
        #expect(R.outcome(table, R.grpc("/shop.Cart/Add")) == "cart:9090 (default)")
    }

    @Test("routes apply but none matches: 404 with flag NR")
    func noMatch() throws {
        let table = try R.table(R.route(rules: "[{matches: [{path: {type: Exact, value: /a}}], backendRefs: [{name: v1, port: 8080}]}]"))
        #expect(R.outcome(table, R.request(.GET, "/b")) == "404 NR")
        #expect(R.outcome(table, R.request(.GET, "/a")) == "v1:8080")
    }

    @Test("a route on the Service wins over one on the waypoint Gateway, which serves the other services")
    func serviceOverGateway() throws {
        let extra = R.route("on-service", rules: "[\(Self.backend("v1"))]") + "\n---\n"
            + R.route("on-gateway", parents: "[{name: waypoint}]", rules: "[\(Self.backend("v2"))]")
        #expect(R.outcome(try R.table(extra), R.request()) == "v1:8080")
        #expect(R.outcome(try R.table(extra, service: "db"), R.request(host: "db")) == "v2:8080")
    }

    @Test("a parentRef port or sectionName limits the route to that service port")
    func ports() throws {
        let byPort = try R.table(R.route(parents: "[{kind: Service, name: cart, port: 80}]", rules: "[\(Self.backend("v1"))]"))
        #expect(R.outcome(byPort, R.request(port: 80)) == "v1:8080")
        #expect(R.outcome(byPort, R.request(port: 9090)) == "cart:9090 (default)")
        let bySection = try R.table(R.route(parents: "[{kind: Service, name: cart, sectionName: grpc}]", rules: "[\(Self.backend("v1"))]"))
        #expect(R.outcome(bySection, R.request(port: 9090)) == "v1:8080")
        #expect(R.outcome(bySection, R.request(port: 80)) == "cart:80 (default)")
    }

    @Test("hostnames: exact and *.wildcard (subdomains only), case-insensitive, the request's port ignored", arguments: [
        ("cart.example.com", "cart.example.com", true), ("cart.example.com", "CART.Example.COM:80", true),
        ("cart.example.com", "api.example.com", false), ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false), ("*.example.com", "a.example.org", false),
    ])
    func hostnames(pattern: String, host: String, applies: Bool) throws {
        let table = try R.table(R.route(hostnames: "[\"\(pattern)\"]", rules: "[\(Self.backend("v1"))]"))
        #expect(R.outcome(table, R.request(host: host)) == (applies ? "v1:8080" : "cart:80 (default)"))
    }

    @Test("a route whose parent is not accepted is not programmed")
    func notAccepted() throws {
        // Port 81 is not a port of the cart Service: Accepted=False (NoMatchingParent).
        let table = try R.table(R.route(parents: "[{kind: Service, name: cart, port: 81}]", rules: "[\(Self.backend("v1"))]"))
        #expect(R.outcome(table, R.request(port: 81)) == "cart:81 (default)")
    }

    // MARK: - Precedence, one step at a time

    @Test("an exact path beats any prefix")
    func exactOverPrefix() throws {
        let table = try R.table(R.route(rules: """
            [{matches: [{path: {type: PathPrefix, value: /api/users/list/all}}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{path: {type: Exact, value: /api/users/list/all}}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.request(.GET, "/api/users/list/all")) == "v2:8080")
    }

    @Test("the longest prefix wins, whatever the rule order")
    func longestPrefix() throws {
        let table = try R.table(R.route(rules: """
            [{matches: [{path: {value: /}}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{path: {value: /api/v2}}], backendRefs: [{name: v3, port: 8080}]},
             {matches: [{path: {value: /api}}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.request(.GET, "/api/v2/x")) == "v3:8080")
        #expect(R.outcome(table, R.request(.GET, "/api/v1")) == "v2:8080")
        #expect(R.outcome(table, R.request(.GET, "/other")) == "v1:8080")
    }

    @Test("prefixes match whole segments: /foo matches /foo, /foo/ and /foo/bar, never /foobar", arguments: [
        ("/foo", "/foo", true), ("/foo", "/foo/", true), ("/foo", "/foo/bar", true), ("/foo", "/foobar", false),
        ("/foo/", "/foo", true), ("/foo/", "/foo/bar", true), ("/foo", "/foo?x=1", true), ("/foo", "/fo", false),
    ])
    func segmentPrefix(prefix: String, path: String, matches: Bool) throws {
        let table = try R.table(R.route(rules: "[{matches: [{path: {value: \"\(prefix)\"}}], backendRefs: [{name: v1, port: 8080}]}]"))
        #expect(R.outcome(table, R.request(.GET, path)) == (matches ? "v1:8080" : "404 NR"))
    }

    @Test("with equal paths a method match beats any number of header matches")
    func methodOverHeaders() throws {
        let table = try R.table(R.route(rules: """
            [{matches: [{headers: [{name: a, value: "1"}, {name: b, value: "2"}]}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{method: GET}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.request(.GET, "/", headers: [("a", "1"), ("b", "2")])) == "v2:8080")
        #expect(R.outcome(table, R.request(.POST, "/", headers: [("a", "1"), ("b", "2")])) == "v1:8080")
    }

    @Test("more header matches beat fewer; header names compare case-insensitively")
    func moreHeaders() throws {
        let table = try R.table(R.route(rules: """
            [{matches: [{headers: [{name: X-A, value: "1"}]}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{headers: [{name: x-a, value: "1"}, {name: x-b, value: "2"}]}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.request(headers: [("x-a", "1"), ("X-B", "2")])) == "v2:8080")
        #expect(R.outcome(table, R.request(headers: [("x-a", "1")])) == "v1:8080")
    }

    @Test("more query matches beat fewer")
    func moreQueryParams() throws {
        let table = try R.table(R.route(rules: """
            [{matches: [{queryParams: [{name: a, value: "1"}]}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{queryParams: [{name: a, value: "1"}, {name: b, value: "2"}]}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.request(.GET, "/?b=2&a=1")) == "v2:8080")
        #expect(R.outcome(table, R.request(.GET, "/?a=1")) == "v1:8080")
        #expect(R.outcome(table, R.request(.GET, "/?a=2")) == "404 NR")
    }

    @Test("equal matches in two routes: the route first by namespace/name wins")
    func routeNameOrder() throws {
        let extra = R.route("b-route", rules: "[\(Self.backend("v2"))]") + "\n---\n" + R.route("a-route", rules: "[\(Self.backend("v1"))]")
        #expect(R.outcome(try R.table(extra), R.request()) == "v1:8080")
    }

    @Test("equal matches in one route: the first rule wins")
    func ruleOrder() throws {
        let table = try R.table(R.route(rules: "[\(Self.backend("v3")), \(Self.backend("v1"))]"))
        #expect(R.outcome(table, R.request()) == "v3:8080")
    }

    @Test("regular expressions must match the whole path or header value")
    func regexWholeString() throws {
        let table = try R.table(R.route(rules: """
            [{matches: [{path: {type: RegularExpression, value: "/api/v[0-9]+"}}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{path: {value: /}, headers: [{type: RegularExpression, name: x-user, value: "beta-[a-z]+"}]}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.request(.GET, "/api/v12")) == "v1:8080")
        #expect(R.outcome(table, R.request(.GET, "/api/v12/users")) == "404 NR")
        #expect(R.outcome(table, R.request(.GET, "/x/api/v1")) == "404 NR")
        #expect(R.outcome(table, R.request(headers: [("x-user", "beta-tom")])) == "v2:8080")
        #expect(R.outcome(table, R.request(headers: [("x-user", "beta-tom2")])) == "404 NR")
    }

    // MARK: - Backends

    @Test("a 90/10 split lands within 1 % over 10 000 requests")
    func weights() throws {
        let table = try R.table(R.route(rules: "[{backendRefs: [{name: v1, port: 8080, weight: 90}, {name: v2, port: 8080, weight: 10}]}]"))
        var random = FastRandom(seed: 42)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[R.outcome(table.route(R.request(), random: &random)), default: 0] += 1 }
        #expect(abs(counts["v1:8080", default: 0] - 9000) <= 100, "\(counts)")
        #expect(abs(counts["v2:8080", default: 0] - 1000) <= 100, "\(counts)")
        #expect(counts.count == 2)
    }

    @Test("weight 0 gets nothing; all weights 0 answers 500")
    func zeroWeights() throws {
        let some = try R.table(R.route(rules: "[{backendRefs: [{name: v1, port: 8080, weight: 0}, {name: v2, port: 8080, weight: 3}]}]"))
        var random = FastRandom(seed: 7)
        #expect((0..<1000).allSatisfy { _ in R.outcome(some.route(R.request(), random: &random)) == "v2:8080" })
        let none = try R.table(R.route(rules: "[{backendRefs: [{name: v1, port: 8080, weight: 0}]}]"))
        #expect(R.outcome(none, R.request()) == "500")
    }

    @Test("an invalid backend keeps its share of traffic, and that share answers 500")
    func invalidBackendShare() throws {
        let table = try R.table(R.route(rules: """
            [{backendRefs: [{name: v1, port: 8080, weight: 1}, {name: gone, port: 8080, weight: 1}, {group: example.com, kind: Bucket, name: b, weight: 2}]}]
            """))
        var random = FastRandom(seed: 3)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[R.outcome(table.route(R.request(), random: &random)), default: 0] += 1 }
        #expect(abs(counts["v1:8080", default: 0] - 2500) <= 150, "\(counts)")
        #expect(abs(counts["500", default: 0] - 7500) <= 150, "\(counts)")
        var one = FastRandom(seed: 3)
        for _ in 0..<50 {
            if case .respond(let reply) = table.route(R.request(), random: &one) {
                #expect(reply.body == "HTTPRoute shop/r rule 0: backend Service shop/gone does not exist"
                    || reply.body == "HTTPRoute shop/r rule 0: backend Bucket.example.com shop/b is not a Service")
            }
        }
    }

    @Test("a rule with no backends answers 500")
    func noBackends() throws {
        #expect(R.outcome(try R.table(R.route(rules: "[{matches: [{path: {value: /}}]}]")), R.request()) == "500")
    }

    // MARK: - What a forward carries

    @Test("a forward carries the rule's filters, timeouts and retry, and the backend's filters after the rule's")
    func forwardCarriesTheRule() throws {
        let table = try R.table(R.route(rules: """
            [{name: main, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-rule, value: "1"}]}}],
              timeouts: {request: 2s}, retry: {codes: [503], attempts: 3},
              backendRefs: [{name: v1, port: 8080, filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-backend, value: "1"}]}}]}]}]
            """))
        var random = FastRandom(seed: 1)
        guard case .forward(let f) = table.route(R.request(), random: &random) else { Issue.record("not forwarded"); return }
        #expect(f.requestHeaderModifiers.map { $0.set.map(\.name) } == [["x-rule"], ["x-backend"]])
        #expect(f.rule?.timeouts.request == .seconds(2) && f.rule?.retry?.attempts == 3 && f.rule?.retry?.codes == [503])
        #expect(f.rule?.description == "HTTPRoute shop/r rule main")
    }

    @Test("ExtensionRef: an HTTPFault is handed to the proxy; one that does not resolve answers 500")
    func extensionRefs() throws {
        let fault = "kind: HTTPFault\nmetadata: {name: slow, namespace: shop}\nspec: {delay: {percentage: {value: 100}, fixedDelay: 1s}}\n---\n"
        let ref = "[{type: ExtensionRef, extensionRef: {group: ambit.dev, kind: HTTPFault, name: slow}}]"
        var random = FastRandom(seed: 1)
        let resolved = try R.table(fault + R.route(rules: "[{filters: \(ref), backendRefs: [{name: v1, port: 8080}]}]"))
        guard case .forward(let f) = resolved.route(R.request(), random: &random) else { Issue.record("not forwarded"); return }
        #expect(f.faults.map(\.metadata.name) == ["slow"])
        let missing = try R.table(R.route(rules: "[{filters: \(ref), backendRefs: [{name: v1, port: 8080}]}]"))
        guard case .respond(let reply) = missing.route(R.request(), random: &random) else { Issue.record("forwarded"); return }
        #expect(reply.status == .internalServerError)
        #expect(reply.body == "HTTPRoute shop/r rule 0: extension filter HTTPFault.ambit.dev slow does not resolve")
    }

    @Test("a redirect rule answers at the waypoint with the Location")
    func redirect() throws {
        let table = try R.table(R.route(rules: "[{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]}]"))
        var random = FastRandom(seed: 1)
        guard case .respond(let reply) = table.route(R.request(.GET, "/a?b=c", host: "shop.example.com"), random: &random) else {
            Issue.record("not a redirect")
            return
        }
        #expect(reply.status == .movedPermanently && reply.headers["location"] == ["https://shop.example.com/a?b=c"])
    }
}
