import AmbitCore
import NIOHTTP1
import Testing

@testable import AmbitWaypoint

/// The route filters as pure functions: header edits, redirect Locations, rewrites,
/// mirror and fault draws.
@Suite("Route filters")
struct FilterTests {
    typealias R = Routing

    // MARK: - Header modifiers

    @Test("set replaces every value, add appends, remove drops; names compare case-insensitively")
    func headerModifier() {
        var headers = HTTPHeaders([("X-Env", "dev"), ("x-env", "test"), ("Accept", "a"), ("X-Drop", "1"), ("x-drop", "2")])
        let modifier = HeaderModifier(
            set: [HTTPHeader(name: "x-ENV", value: "prod")], add: [HTTPHeader(name: "accept", value: "b")], remove: ["X-DROP"])
        modifier.apply(to: &headers)
        #expect(headers["x-env"] == ["prod"])
        #expect(headers["accept"] == ["a", "b"])
        #expect(headers["x-drop"].isEmpty)
    }

    // MARK: - Redirects

    static func location(_ redirect: HTTPRoute.Redirect, _ uri: String, host: String = "shop.example.com", port: Int = 80, prefix: String? = nil) -> String {
        RedirectLocation.location(redirect, for: R.request(.GET, uri, host: host, port: port), matchedPrefix: prefix)
    }

    @Test("a scheme change takes the scheme's port, which is left out of the Location")
    func redirectScheme() {
        #expect(Self.location(.init(scheme: "https"), "/a?x=1", port: 8080) == "https://shop.example.com/a?x=1")
        #expect(Self.location(.init(scheme: "http"), "/a", port: 8443) == "http://shop.example.com/a")
    }

    @Test("without a scheme change the request's port stays, unless it is the scheme's default")
    func redirectPort() {
        #expect(Self.location(.init(hostname: "new.example.com"), "/a", port: 8080) == "http://new.example.com:8080/a")
        #expect(Self.location(.init(hostname: "new.example.com"), "/a", port: 80) == "http://new.example.com/a")
        #expect(Self.location(.init(scheme: "https", port: 8443), "/a") == "https://shop.example.com:8443/a")
        #expect(Self.location(.init(scheme: "https", port: 443), "/a") == "https://shop.example.com/a")
        #expect(Self.location(.init(port: 80), "/a", host: "shop.example.com:9999", port: 9999) == "http://shop.example.com/a")
    }

    @Test("redirect paths: ReplaceFullPath and ReplacePrefixMatch, query kept")
    func redirectPath() {
        #expect(Self.location(.init(path: .replaceFullPath("/new")), "/old/x?q=1") == "http://shop.example.com/new?q=1")
        #expect(Self.location(.init(path: .replacePrefixMatch("/v2")), "/v1/users", prefix: "/v1") == "http://shop.example.com/v2/users")
    }

    @Test("the redirect reply is 301 or 302 with the Location")
    func redirectReply() {
        let reply = RedirectLocation.reply(.init(scheme: "https", statusCode: 301), for: R.request(.GET, "/"), matchedPrefix: nil)
        #expect(reply.status == .movedPermanently && reply.headers["location"] == ["https://cart.shop.svc.cluster.local/"])
        #expect(RedirectLocation.reply(.init(), for: R.request(), matchedPrefix: nil).status == .found)
    }

    // MARK: - Rewrites

    @Test("ReplacePrefixMatch follows Gateway API's table", arguments: [
        ("/foo/bar", "/foo", "/xyz", "/xyz/bar"), ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
        ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"), ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
        ("/foo", "/foo", "/xyz", "/xyz"), ("/foo/", "/foo", "/xyz", "/xyz/"),
        ("/foo/bar", "/foo", "", "/bar"), ("/foo/", "/foo", "", "/"), ("/foo", "/foo", "", "/"),
        ("/foo/", "/foo", "/", "/"), ("/foo", "/foo", "/", "/"), ("/foo/bar", "/", "/api", "/api/foo/bar"),
    ])
    func replacePrefix(path: String, prefix: String, replacement: String, expected: String) {
        #expect(PathRewrite.replacePrefix(Substring(path), prefix: prefix, with: replacement) == expected)
    }

    @Test("URLRewrite keeps the query and sets the Host")
    func urlRewrite() {
        let request = R.request(.GET, "/shop/cart?id=7")
        let both = URLRewriter.rewrite(.init(hostname: "cart.internal", path: .replacePrefixMatch("/")), request, matchedPrefix: "/shop")
        #expect(both.uri == "/cart?id=7" && both.host == "cart.internal")
        let full = URLRewriter.rewrite(.init(path: .replaceFullPath("/v2/cart")), request, matchedPrefix: nil)
        #expect(full.uri == "/v2/cart?id=7" && full.host == nil)
    }

    // MARK: - Mirror and faults

    static func share(_ n: Int = 10_000, seed: UInt64, _ draw: (inout FastRandom) -> Bool) -> Int {
        var random = FastRandom(seed: seed)
        return (0..<n).filter { _ in draw(&random) }.count
    }

    @Test("a mirror copies its percent of requests: 0 never, 100 always, 30 about 30 %")
    func mirrorPercent() {
        let backend = BackendReference(name: "shadow", namespace: "shop", port: 80)
        #expect(Self.share(seed: 1) { (r: inout FastRandom) in RequestMirror(backendRef: backend, percent: 0).shouldMirror(random: &r) } == 0)
        #expect(Self.share(seed: 1) { (r: inout FastRandom) in RequestMirror(backendRef: backend, percent: 100).shouldMirror(random: &r) } == 10_000)
        #expect(abs(Self.share(seed: 2) { (r: inout FastRandom) in RequestMirror(backendRef: backend, percent: 30).shouldMirror(random: &r) } - 3000) <= 150)
    }

    static func fault(delay: Double? = nil, abort: Double? = nil, status: HTTPFault.Abort.Status = .http(503)) -> HTTPFault {
        HTTPFault(
            metadata: ObjectMeta(name: "f", namespace: "shop"), delay: delay.map { .init(percentage: $0, fixedDelay: .seconds(2)) },
            abort: abort.map { .init(percentage: $0, status: status) })
    }

    @Test("delays and aborts hit their percentages, fractions included")
    func faultPercentages() {
        let f = Self.fault(delay: 10, abort: 5)
        #expect(abs(Self.share(seed: 5) { (r: inout FastRandom) in FaultInjection.decide([f], grpc: false, random: &r).delay != nil } - 1000) <= 100)
        #expect(abs(Self.share(seed: 6) { (r: inout FastRandom) in FaultInjection.decide([f], grpc: false, random: &r).abort != nil } - 500) <= 70)
        let rare = Self.fault(abort: 0.5)
        #expect(abs(Self.share(100_000, seed: 7) { (r: inout FastRandom) in FaultInjection.decide([rare], grpc: false, random: &r).abort != nil } - 500) <= 80)
        #expect(Self.share(seed: 8) { (r: inout FastRandom) in FaultInjection.decide([Self.fault(delay: 0, abort: 0)], grpc: false, random: &r).isNone } == 10_000)
    }

    @Test("a fault at 100 % always applies: delays add up, the first abort answers")
    func faultAlways() {
        var random = FastRandom(seed: 1)
        let decided = FaultInjection.decide(
            [Self.fault(delay: 100, abort: 100, status: .http(418)), Self.fault(delay: 100, abort: 100)], grpc: false, random: &random)
        #expect(decided.delay == .seconds(4))
        #expect(decided.abort == LocalReply(status: .imATeapot, headers: ["content-type": "text/plain"], body: "fault filter abort", responseFlag: "FI"))
    }

    @Test("a gRPC abort is a trailers-only response carrying grpc-status")
    func grpcAbort() {
        var random = FastRandom(seed: 1)
        let reply = FaultInjection.decide([Self.fault(abort: 100, status: .grpc(.unavailable))], grpc: true, random: &random).abort
        #expect(reply?.status == .ok && reply?.headers["grpc-status"] == ["14"] && reply?.responseFlag == "FI")
    }
}
