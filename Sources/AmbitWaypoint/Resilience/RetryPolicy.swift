import AmbitCore

/// A route rule's retry stanza (GEP-1731), prepared once per configuration so the
/// per-request work is a set lookup.
///
/// What is retried, and why:
/// - Nothing, unless the rule has a `retry` stanza (Envoy and Gateway API default). The
///   proxy passes `nil` for "no stanza"; a stanza with `attempts: 0` behaves the same.
/// - Failures that prove the application never saw the request (`connectFailure`,
///   `refusedStream`) are retried for every method once a stanza exists, as GEP-1731 asks
///   ("retry connection errors") and as RFC 9110 allows.
/// - A response status listed in `codes` is retried for every method. Listing a code on a
///   rule is the route saying the requests it matches may be repeated for that answer;
///   a route that must not repeat its POSTs matches them in a rule without `retry`. This
///   is also what Envoy-based implementations do with the same document.
/// - A gRPC status is retried when the HTTP code it maps to is listed
///   (`GRPCRetryMapping`: UNAVAILABLE ↔ 503, INTERNAL ↔ 500, DEADLINE_EXCEEDED ↔ 504,
///   RESOURCE_EXHAUSTED ↔ 429, CANCELLED ↔ 499).
/// - A `reset` (the request went out, no answer came) is retried only for idempotent
///   methods: the stanza did not name it, and RFC 9110 forbids repeating a POST that may
///   have been applied.
/// - A `perTryTimeout` is retried for idempotent methods, and for any method when 504
///   (what the proxy would answer for it) is listed.
///
/// A request whose body the proxy could not keep (over `maxBufferedBodyBytes`, or
/// streamed) is never retried: there is nothing to send again.
public struct RetryPolicy: Hashable, Sendable {
    /// Linkerd's and Envoy's practical limit on what a proxy holds for a replay.
    public static let maxBufferedBodyBytes = 64 * 1024

    public var retriableStatusCodes: Set<Int>
    /// Retries after the first attempt (GEP-1731 `attempts`).
    public var maxRetries: Int
    public var backoff: RetryBackoff

    public init(retriableStatusCodes: Set<Int>, maxRetries: Int, backoff: RetryBackoff = RetryBackoff()) {
        self.retriableStatusCodes = retriableStatusCodes
        self.maxRetries = max(0, maxRetries)
        self.backoff = backoff
    }

    public init(_ stanza: HTTPRoute.Retry) {
        self.init(retriableStatusCodes: Set(stanza.codes), maxRetries: stanza.attempts, backoff: RetryBackoff(base: stanza.backoff))
    }

    /// nil when the rule has no stanza: no retries at all.
    public init?(route stanza: HTTPRoute.Retry?) {
        guard let stanza else { return nil }
        self.init(stanza)
    }

    /// Whether this outcome may be retried for a request of this kind, before counting
    /// attempts, budgets or buffers.
    public func allowsRetry(after outcome: AttemptOutcome, idempotent: Bool) -> Bool {
        switch outcome {
        case .connectFailure, .refusedStream:
            true
        case .status(let code):
            retriableStatusCodes.contains(code)
        case .grpcStatus(let code):
            GRPCRetryMapping.httpStatus(forGRPCStatus: code).map(retriableStatusCodes.contains) ?? false
        case .reset:
            idempotent
        case .perTryTimeout:
            idempotent || retriableStatusCodes.contains(504)
        }
    }
}

/// Envoy's fully jittered exponential backoff: retry N waits a uniform draw from
/// [0, (2^N − 1) · base), the upper bound capped at 10 × base (25 ms → 250 ms).
///
/// Full jitter rather than a fixed ladder so that many clients failing together do not
/// come back together.
public struct RetryBackoff: Hashable, Sendable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = HTTPRoute.Retry.defaultBackoff, cap: Duration? = nil) {
        self.base = max(.zero, base)
        self.cap = cap ?? self.base * 10
    }

    /// The exclusive upper bound of the wait before retry `retry` (1 for the first retry).
    public func upperBound(beforeRetry retry: Int) -> Duration {
        let baseNanos = Self.nanoseconds(base)
        let capNanos = Self.nanoseconds(cap)
        // (2^N − 1) · base, saturating: past 62 doublings it is above any cap anyway.
        let factor: Int64 = retry >= 62 ? .max : (Int64(1) << max(retry, 1)) - 1
        let (product, overflow) = baseNanos.multipliedReportingOverflow(by: factor)
        return .nanoseconds(overflow ? capNanos : min(product, capNanos))
    }

    /// A draw from [0, upperBound).
    public func delay(beforeRetry retry: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let bound = Self.nanoseconds(upperBound(beforeRetry: retry))
        guard bound > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0..<bound, using: &random))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole + attoseconds / 1_000_000_000
    }
}
