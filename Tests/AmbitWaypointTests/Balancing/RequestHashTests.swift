import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct RequestHashTests {
    @Test func headerKeys() {
        var random = FastRandom(seed: 1)
        let request = FakeRequest(headers: [("X-User", "alice")])
        let hash = RequestHash(.httpHeaderName("x-user"), request: request, random: &random)
        #expect(hash.value == XXHash64.hash("alice"))
        #expect(hash.setCookie == nil)
        #expect(RequestHash(.httpHeaderName("X-User"), request: request, random: &random).value == hash.value)
        #expect(RequestHash(.httpHeaderName("x-other"), request: request, random: &random).value == nil)
        let bob = RequestHash(.httpHeaderName("x-user"), request: FakeRequest(headers: [("x-user", "bob")]), random: &random)
        #expect(bob.value != hash.value)
    }

    @Test func sourceIPKeys() {
        var random = FastRandom(seed: 2)
        let request = FakeRequest(sourceIP: "10.0.0.7")
        #expect(RequestHash(.useSourceIp, request: request, random: &random).value == XXHash64.hash("10.0.0.7"))
        #expect(RequestHash(.useSourceIp, request: FakeRequest(), random: &random).value == nil)
    }

    @Test func queryParameterKeys() {
        var random = FastRandom(seed: 3)
        func hash(_ target: String) -> UInt64? {
            RequestHash(.httpQueryParameterName("session"), request: FakeRequest(pathAndQuery: target), random: &random).value
        }
        #expect(hash("/cart?item=3&session=abc") == XXHash64.hash("abc"))
        #expect(hash("/cart?session=abc#top") == XXHash64.hash("abc"))
        #expect(hash("/cart?sessionx=abc") == nil)
        #expect(hash("/cart") == nil)
        #expect(hash("/cart?session") == XXHash64.hash(""))
    }

    @Test func cookieKeys() {
        var random = FastRandom(seed: 4)
        let key = DestinationRule.ConsistentHash.Key.httpCookie(name: "user", path: "/", ttl: .seconds(3600))
        let request = FakeRequest(headers: [("cookie", "theme=dark; user=alice "), ("cookie", "x=1")])
        let hash = RequestHash(key, request: request, random: &random)
        #expect(hash.value == XXHash64.hash("alice"))
        #expect(hash.setCookie == nil)
        let quoted = RequestHash(key, request: FakeRequest(headers: [("cookie", "user=\"alice\"")]), random: &random)
        #expect(quoted.value == hash.value)
    }

    @Test func aMissingCookieWithATTLIsSetSoTheNextRequestSticks() throws {
        var random = FastRandom(seed: 5)
        let key = DestinationRule.ConsistentHash.Key.httpCookie(name: "sticky", path: "/app", ttl: .seconds(60))
        let first = RequestHash(key, request: FakeRequest(), random: &random)
        let setCookie = try #require(first.setCookie)
        #expect(setCookie.hasPrefix("sticky="))
        #expect(setCookie.contains("; Max-Age=60"))
        #expect(setCookie.contains("; Path=/app"))
        #expect(setCookie.hasSuffix("; HttpOnly"))
        #expect(first.value != nil)

        // The browser sends the cookie back: the same hash, and no new cookie.
        let pair = String(setCookie.prefix { $0 != ";" })
        let next = RequestHash(key, request: FakeRequest(headers: [("cookie", pair)]), random: &random)
        #expect(next.value == first.value)
        #expect(next.setCookie == nil)

        // Another new client gets another cookie.
        #expect(RequestHash(key, request: FakeRequest(), random: &random).setCookie != setCookie)
    }

    @Test func aZeroTTLMakesASessionCookieAndNoTTLMakesNone() {
        var random = FastRandom(seed: 6)
        let session = RequestHash(.httpCookie(name: "s", path: nil, ttl: .zero), request: FakeRequest(), random: &random)
        #expect(session.setCookie?.contains("Max-Age") == false)
        let none = RequestHash(.httpCookie(name: "s", path: nil, ttl: nil), request: FakeRequest(), random: &random)
        #expect(none.value == nil)
        #expect(none.setCookie == nil)
    }
}
