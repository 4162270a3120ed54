// What `ambit-testapp load` is asked to do, and what it found.
import NIOCore
import NIOHTTP1

public struct LoadConfiguration: Sendable {
    public var url: HTTPURL
    public var method: HTTPMethod
    public var headers: [(String, String)]
    public var body: ByteBuffer?
    /// Measured requests (warm-up not included).
    public var requests: Int
    /// Keep-alive connections; each carries one request at a time.
    public var concurrency: Int
    /// Requests per second, all connections together. nil: closed loop, as fast as the
    /// connections go. With a rate the run is open loop: request i is due at start + i/rate
    /// whether or not earlier ones have come back, and its latency counts from when it was
    /// due, so a stall shows as latency instead of as fewer requests (no coordinated omission).
    public var rate: Double?
    /// Closed-loop requests sent first and not measured (connections, caches, JIT-free warm-up).
    public var warmup: Int

    public init(
        url: HTTPURL, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: ByteBuffer? = nil,
        requests: Int, concurrency: Int = 1, rate: Double? = nil, warmup: Int = 0
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.requests = requests
        self.concurrency = concurrency
        self.rate = rate
        self.warmup = warmup
    }
}

public struct LoadReport: Sendable {
    public var requests: Int
    public var seconds: Double
    /// By HTTP status; failed requests (no response) are in `errors`.
    public var statuses: [Int: Int]
    /// By the `x-ambit-version` response header ("-" when absent).
    public var versions: [String: Int]
    /// By each NAME/VERSION in `x-ambit-upstream`: which instances a front's calls reached
    /// (a canary split seen one hop behind the service that was asked).
    public var upstreams: [String: Int] = [:]
    /// By error description.
    public var errors: [String: Int]
    /// From when each request was due (open loop) or sent (closed loop) to its last byte.
    public var latency: LatencySummary
    /// From when each request was actually written to its last byte.
    public var service: LatencySummary
    public var targetRate: Double?

    public var completed: Int { statuses.values.reduce(0, +) }
    public var achievedRate: Double { seconds > 0 ? Double(completed) / seconds : 0 }

    public func json() -> String {
        var w = JSONWriter()
        w.beginObject()
        w.field("requests", requests)
        w.field("completed", completed)
        w.field("seconds", seconds)
        w.field("rps", achievedRate)
        if let targetRate { w.field("target_rps", targetRate) }
        w.beginObject("statuses")
        for (k, v) in statuses.sorted(by: { $0.key < $1.key }) { w.field(String(k), v) }
        w.endObject()
        w.beginObject("versions")
        for (k, v) in versions.sorted(by: { $0.key < $1.key }) { w.field(k, v) }
        w.endObject()
        w.beginObject("upstreams")
        for (k, v) in upstreams.sorted(by: { $0.key < $1.key }) { w.field(k, v) }
        w.endObject()
        w.beginObject("errors")
        for (k, v) in errors.sorted(by: { $0.key < $1.key }) { w.field(k, v) }
        w.endObject()
        for (key, s) in [("latency_us", latency), ("service_us", service)] {
            w.beginObject(key)
            w.field("count", s.count)
            w.field("p50", s.p50); w.field("p90", s.p90); w.field("p99", s.p99); w.field("p999", s.p999)
            w.field("max", s.max); w.field("mean", s.mean)
            w.endObject()
        }
        w.endObject()
        return String(buffer: w.buffer)
    }

    public func text() -> String {
        func ms(_ us: Double) -> String { formatFixed(us / 1000, digits: 3) }
        var lines: [String] = []
        let rateNote = targetRate.map { " (target \(formatFixed($0, digits: 0))/s, open loop)" } ?? " (closed loop)"
        lines.append("requests \(requests), completed \(completed) in \(formatFixed(seconds, digits: 2)) s: \(formatFixed(achievedRate, digits: 1)) req/s\(rateNote)")
        lines.append("status: " + statuses.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        lines.append("x-ambit-version: " + versions.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        if !upstreams.isEmpty {
            lines.append("x-ambit-upstream: " + upstreams.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if !errors.isEmpty {
            lines.append("errors: " + errors.sorted(by: { $0.key < $1.key }).map { "\($0.value)× \($0.key)" }.joined(separator: "; "))
        }
        lines.append("latency ms: p50 \(ms(latency.p50))  p90 \(ms(latency.p90))  p99 \(ms(latency.p99))  p99.9 \(ms(latency.p999))  max \(ms(latency.max))")
        if targetRate != nil {
            lines.append("service ms (from send, not from due time): p50 \(ms(service.p50))  p99 \(ms(service.p99))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Fixed-point formatting without Foundation.
func formatFixed(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let frac = Int(scaled - Double(whole) * scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return sign + String(whole) }
    let fracText = String(frac)
    return sign + String(whole) + "." + String(repeating: "0", count: digits - fracText.count) + fracText
}
