/// The retry state machine of one downstream request: it counts attempts, decides after
/// each failed attempt whether to try again and how long to wait first, and remembers
/// why it stopped (for the `URX` response flag and the access log).
///
/// Owned by the request (a value the request's handler mutates; no sharing, no locks).
/// The shared limits — the retry budget and the pool's `maxRetries` — are consulted
/// through `permit`, so this type stays pure and the proxy reads:
///
/// ```swift
/// var attempt = RetryState(policy: rule.retryPolicy, method: head.method, bodyBuffered: body.isComplete)
/// // send with header ("x-envoy-attempt-count", attempt.attemptCountHeader)
/// if let wait = attempt.next(after: .status(503), using: &random,
///                            permit: { budget.tryWithdraw(now: now) && breaker.tryAcquire(.retry) }) {
///     // sleep `wait`, then send again (`attempt.attempt` is now 2)
/// } else {
///     // forward the last response; attempt.responseFlag is "URX" when the limit was hit
/// }
/// ```
public struct RetryState: Sendable {
    /// The request header that tells the upstream which attempt this is (1 for the first).
    public static let attemptCountHeaderName = "x-envoy-attempt-count"

    /// Why the request will not be tried again.
    public enum StopReason: Hashable, Sendable {
        /// The route has no retry stanza (or `attempts: 0`).
        case notConfigured
        /// The outcome is not one the policy retries for this method.
        case notRetriable
        /// The body is larger than the replay buffer or was streamed.
        case bodyNotBuffered
        /// Every allowed retry was used (Envoy's `URX`).
        case limitReached
        /// The retry budget or the pool's `maxRetries` said no.
        case retryOverflow
    }

    public let policy: RetryPolicy?
    public let isIdempotent: Bool
    public private(set) var bodyBuffered: Bool
    /// The attempt in flight, 1-based.
    public private(set) var attempt = 1
    /// Set once `next` declines; nil while retries remain possible.
    public private(set) var stopReason: StopReason?

    /// - Parameters:
    ///   - policy: the rule's prepared policy; nil when the rule has no `retry`.
    ///   - method: the request method as sent (`GET`, `POST`…).
    ///   - bodyBuffered: true when the whole body is held for a replay (or there is none);
    ///     false for a body over `RetryPolicy.maxBufferedBodyBytes` or still streaming.
    public init(policy: RetryPolicy?, method: String, bodyBuffered: Bool) {
        self.policy = policy
        self.isIdempotent = IdempotentMethods.contains(method)
        self.bodyBuffered = bodyBuffered
    }

    /// The value of `x-envoy-attempt-count` for the attempt in flight.
    public var attemptCountHeader: String { String(attempt) }

    /// Retries made so far.
    public var retriesUsed: Int { attempt - 1 }

    /// `URX` when the request ran out of retries, for the access log and metrics.
    public var responseFlag: String? { stopReason == .limitReached ? "URX" : nil }

    /// Called when the body turned out larger than the replay buffer while it was being
    /// sent: from now on nothing can be replayed.
    public mutating func bodyOutgrewBuffer() {
        bodyBuffered = false
    }

    /// Decides what follows a failed attempt. Returns the wait before the next attempt
    /// (and counts that attempt), or nil when the request is done and `stopReason` says why.
    ///
    /// `permit` is asked last, only when everything else allows a retry, so a budget is
    /// not charged for a retry that would not have happened.
    public mutating func next(
        after outcome: AttemptOutcome, using random: inout some RandomNumberGenerator, permit: () -> Bool = { true }
    ) -> Duration? {
        guard let policy, policy.maxRetries > 0 else { return stop(.notConfigured) }
        guard policy.allowsRetry(after: outcome, idempotent: isIdempotent) else { return stop(.notRetriable) }
        guard bodyBuffered else { return stop(.bodyNotBuffered) }
        guard retriesUsed < policy.maxRetries else { return stop(.limitReached) }
        guard permit() else { return stop(.retryOverflow) }
        attempt += 1
        stopReason = nil
        return policy.backoff.delay(beforeRetry: retriesUsed, using: &random)
    }

    private mutating func stop(_ reason: StopReason) -> Duration? {
        stopReason = reason
        return nil
    }
}
