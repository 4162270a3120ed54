import AmbitCore

/// The two Gateway API timeouts of one request turned into instants: `timeouts.request`
/// bounds the whole exchange, every retry and backoff included; `timeouts.backendRequest`
/// bounds each attempt from the moment it is sent. Either firing answers 504 with the
/// `UT` flag, unless a per-try timeout is retried (see `RetryPolicy`).
///
/// `nil` and `0s` both mean "no limit" (Gateway API: `0s` disables). A value per request;
/// times are seconds from the proxy's injected clock.
public struct RequestDeadlines: Hashable, Sendable {
    /// Which timeout ran out.
    public enum Kind: Hashable, Sendable {
        /// `timeouts.request`: the request is over, no more attempts.
        case request
        /// `timeouts.backendRequest`: this attempt is over; the retry policy decides what next.
        case backendRequest
    }

    public struct Deadline: Hashable, Sendable {
        public var at: Double
        public var kind: Kind
        public init(at: Double, kind: Kind) {
            self.at = at
            self.kind = kind
        }
    }

    /// When the whole request must be answered, if ever.
    public let requestDeadline: Double?
    /// How long one attempt may take, in seconds, if limited.
    public let perTrySeconds: Double?

    public init(_ timeouts: HTTPRoute.Timeouts, requestStartedAt start: Double) {
        requestDeadline = Self.seconds(timeouts.request).map { start + $0 }
        perTrySeconds = Self.seconds(timeouts.backendRequest)
    }

    /// The instant the proxy arms its timer for when it sends an attempt at
    /// `attemptStartedAt`, and which timeout that is. The request deadline wins a tie,
    /// because it ends the request rather than inviting a retry. nil: no timer.
    public func deadline(forAttemptStartedAt attemptStart: Double) -> Deadline? {
        let perTry = perTrySeconds.map { attemptStart + $0 }
        switch (requestDeadline, perTry) {
        case (nil, nil): return nil
        case (let request?, nil): return Deadline(at: request, kind: .request)
        case (nil, let attempt?): return Deadline(at: attempt, kind: .backendRequest)
        case (let request?, let attempt?):
            return attempt < request ? Deadline(at: attempt, kind: .backendRequest) : Deadline(at: request, kind: .request)
        }
    }

    /// Which timeout has run out at `now` for the attempt sent at `attemptStartedAt`, if any.
    public func expired(attemptStartedAt attemptStart: Double, now: Double) -> Kind? {
        guard let deadline = deadline(forAttemptStartedAt: attemptStart), now >= deadline.at else { return nil }
        return deadline.kind
    }

    /// Whether a retry that would start after `wait` still begins before the request
    /// deadline; when it would not, the proxy answers now instead of waiting for a 504.
    public func leavesRoom(forRetryAfter wait: Duration, now: Double) -> Bool {
        guard let requestDeadline else { return true }
        return now + wait / .seconds(1) < requestDeadline
    }

    private static func seconds(_ duration: Duration?) -> Double? {
        guard let duration, duration > .zero else { return nil }
        return duration / .seconds(1)
    }
}
