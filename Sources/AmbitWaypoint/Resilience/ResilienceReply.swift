/// The answers the proxy gives itself when resilience logic, not the upstream, ends a
/// request: status, extra headers, Envoy's response flag (for the access log and the
/// `response_flags` metric label) and Envoy's body text, so clients and dashboards that
/// know Envoy see what they expect.
public struct ResilienceReply: Hashable, Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var responseFlag: String
    public var body: String

    /// A connection-pool limit refused the request (`CircuitBreaker.tryAcquire` said no).
    public static let overloaded = ResilienceReply(
        status: 503, headers: [("x-envoy-overloaded", "true")], responseFlag: "UO",
        body: "upstream connect error or disconnect/reset before headers. reset reason: overflow")

    /// `timeouts.request`, or a `backendRequest` timeout that was not retried.
    public static let upstreamTimeout = ResilienceReply(status: 504, headers: [], responseFlag: "UT", body: "upstream request timeout")

    /// The destination has no endpoint at all (all ejected hosts are still used: panic mode).
    public static let noHealthyUpstream = ResilienceReply(status: 503, headers: [], responseFlag: "UH", body: "no healthy upstream")

    /// The last attempt could not connect, or was reset before response headers.
    public static let upstreamConnectFailure = ResilienceReply(
        status: 503, headers: [], responseFlag: "UF",
        body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure")

    public static func == (a: ResilienceReply, b: ResilienceReply) -> Bool {
        a.status == b.status && a.responseFlag == b.responseFlag && a.body == b.body
            && a.headers.elementsEqual(b.headers, by: { $0.name == $1.name && $0.value == $1.value })
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(responseFlag)
        hasher.combine(body)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
    }
}
