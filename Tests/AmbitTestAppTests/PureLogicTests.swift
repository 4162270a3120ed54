import NIOCore
import Testing

@testable import AmbitTestApp

@Suite("Fault plan")
struct FaultPlanTests {
    private func statuses(_ settings: FaultSettings, count: Int, overrides: RequestOverrides = RequestOverrides()) -> [Int] {
        (0..<count).map { FaultPlan.decide(settings: settings, overrides: overrides, index: $0, random: { 0.99 }).status }
    }

    @Test func fiftyPercentSpreadAlternatesStartingWithAFailure() {
        let s = FaultSettings(failPercent: 50, failCode: 503)
        #expect(statuses(s, count: 6) == [503, 200, 503, 200, 503, 200])
    }

    @Test func spreadIsExactOverAnyPrefix() {
        for percent in [1.0, 10, 25, 33.33, 50, 90, 99] {
            let s = FaultSettings(failPercent: percent)
            let failures = statuses(s, count: 1000).filter { $0 == 500 }.count
            #expect(failures == Int((percent * 10).rounded(.up)), "percent \(percent)")
        }
        #expect(statuses(FaultSettings(failPercent: 0), count: 50).allSatisfy { $0 == 200 })
        #expect(statuses(FaultSettings(failPercent: 100), count: 50).allSatisfy { $0 == 500 })
    }

    @Test func randomModeUsesTheInjectedSource() {
        let s = FaultSettings(failPercent: 30, failMode: .random)
        let low = FaultPlan.decide(settings: s, overrides: RequestOverrides(), index: 0, random: { 0.29 })
        let high = FaultPlan.decide(settings: s, overrides: RequestOverrides(), index: 0, random: { 0.30 })
        #expect(low.status == 500 && low.injected)
        #expect(high.status == 200 && !high.injected)
    }

    @Test func headerStatusOverridesThePercentageAndDelayOverridesTheFlag() {
        let s = FaultSettings(failPercent: 100, delayMilliseconds: 5)
        let d = FaultPlan.decide(settings: s, overrides: RequestOverrides(status: 204, delayMilliseconds: 300), index: 0, random: { 0 })
        #expect(d == FaultDecision(status: 204, delayMilliseconds: 300, injected: false))
        let slow = FaultPlan.decide(settings: s, overrides: RequestOverrides(), index: 0, random: { 0 })
        #expect(slow.delayMilliseconds == 5)
    }

    @Test func failAttemptsLetsALaterAttemptSucceed() {
        let s = FaultSettings()
        func status(attempt: Int) -> Int {
            FaultPlan.decide(settings: s, overrides: RequestOverrides(status: 503, failAttempts: 2, attempt: attempt), index: 0, random: { 0 }).status
        }
        #expect([1, 2, 3, 4].map(status) == [503, 503, 200, 200])
        // Also with the instance's own --fail-percent.
        let always = FaultSettings(failPercent: 100, failCode: 502)
        let third = FaultPlan.decide(settings: always, overrides: RequestOverrides(failAttempts: 2, attempt: 3), index: 0, random: { 0 })
        #expect(third.status == 200)
    }
}

@Suite("Parsing and summaries")
struct ParsingTests {
    @Test func prefaceSnifferTellsHTTP2FromHTTP1Early() {
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        #expect(PrefaceSniffer.classify(preface) == .http2)
        #expect(PrefaceSniffer.classify(preface + [0, 0, 4]) == .http2)
        #expect(PrefaceSniffer.classify(preface.prefix(10)) == .needMoreBytes)
        #expect(PrefaceSniffer.classify(Array("GET / HTTP/1.1\r\n".utf8)) == .http1)
        #expect(PrefaceSniffer.classify(Array("PRI * HTTP/1.1".utf8)) == .http1)
        #expect(PrefaceSniffer.classify([UInt8]()) == .needMoreBytes)
    }

    @Test func addressesAndURLs() throws {
        #expect(try HostPort(parsing: "127.0.0.1:8080") == HostPort(host: "127.0.0.1", port: 8080))
        #expect(try HostPort(parsing: "[::1]:9") == HostPort(host: "::1", port: 9))
        #expect(throws: TestAppError.self) { try HostPort(parsing: "127.0.0.1") }
        #expect(throws: TestAppError.self) { try HostPort(parsing: "host:70000") }
        let url = try HTTPURL(parsing: "http://back.demo:8080/api?x=1")
        #expect(url.endpoint == HostPort(host: "back.demo", port: 8080))
        #expect(url.target == "/api?x=1")
        #expect(url.hostHeader == "back.demo:8080")
        let plain = try HTTPURL(parsing: "http://back")
        #expect(plain.endpoint.port == 80 && plain.target == "/" && plain.hostHeader == "back")
        #expect(throws: TestAppError.self) { try HTTPURL(parsing: "https://x:1/") }
    }

    @Test func nearestRankPercentiles() {
        let samples = (1...100).map { UInt64($0) * 1000 }.shuffled()
        let s = LatencySummary(nanoseconds: samples)
        #expect(s.count == 100)
        #expect(s.p50 == 50 && s.p90 == 90 && s.p99 == 99 && s.max == 100)
        #expect(s.mean == 50.5)
        #expect(LatencySummary(nanoseconds: []).p99 == 0)
    }

    @Test func jsonWriterEscapes() {
        var w = JSONWriter()
        w.beginObject()
        w.field("a", "q\"\\\n\u{1}")
        w.beginArray("l")
        w.element("x")
        w.element("y")
        w.endArray()
        w.field("n", 3)
        w.endObject()
        #expect(String(buffer: w.buffer) == #"{"a":"q\"\\\n\u0001","l":["x","y"],"n":3}"#)
    }

    @Test func fixedFormatting() {
        #expect(formatFixed(1.2345, digits: 3) == "1.235")
        #expect(formatFixed(0.05, digits: 3) == "0.050")
        #expect(formatFixed(12, digits: 0) == "12")
    }
}
