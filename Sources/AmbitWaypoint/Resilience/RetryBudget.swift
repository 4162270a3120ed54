/// Caps retries to a share of recent traffic, so that when a backend is down the proxy
/// does not multiply the load on it by the retry count (GEP-3388; Linkerd's and Envoy's
/// retry budgets).
///
/// A retry is allowed while the retries of the last `window` stay under `percent` of the
/// requests of that window (20 % of 10 s), or while fewer than `minRetriesPerSecond`
/// retries were made in the current second — the floor that lets a quiet service still
/// retry its occasional failure.
///
/// Time is a sliding window of one-second buckets with running totals, so both calls are
/// O(1) apart from clearing buckets that time skipped. Owned per destination service by
/// whoever owns the event loop that serves it (a value the owner mutates; put it behind a
/// lock if several loops share one budget). Times are seconds from an injected clock.
public struct RetryBudget: Sendable {
    public struct Configuration: Hashable, Sendable {
        public var percent: Int
        public var window: Duration
        public var minRetriesPerSecond: Int

        public init(percent: Int = 20, window: Duration = .seconds(10), minRetriesPerSecond: Int = 10) {
            self.percent = percent
            self.window = window
            self.minRetriesPerSecond = minRetriesPerSecond
        }
    }

    private struct Bucket {
        var requests = 0
        var retries = 0
    }

    public let configuration: Configuration
    private let bucketSeconds: Double
    private var buckets: [Bucket]
    /// Whole buckets since the epoch of the bucket `currentIndex` holds.
    private var currentTick: Int64?
    private var currentIndex = 0
    private var requestsInWindow = 0
    private var retriesInWindow = 0

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        let windowSeconds = max(1, Int((configuration.window / .seconds(1)).rounded(.up)))
        bucketSeconds = 1
        buckets = Array(repeating: Bucket(), count: windowSeconds)
    }

    /// Counts an original request (not a retry) toward the budget.
    public mutating func recordRequest(now: Double) {
        advance(to: now)
        buckets[currentIndex].requests += 1
        requestsInWindow += 1
    }

    /// Takes one retry from the budget if there is one; false means do not retry.
    public mutating func tryWithdraw(now: Double) -> Bool {
        advance(to: now)
        let withinShare = (retriesInWindow + 1) * 100 <= configuration.percent * requestsInWindow
        let withinFloor = buckets[currentIndex].retries < configuration.minRetriesPerSecond
        guard withinShare || withinFloor else { return false }
        buckets[currentIndex].retries += 1
        retriesInWindow += 1
        return true
    }

    /// Retries the window would still allow now, for metrics and the admin page.
    public mutating func remaining(now: Double) -> Int {
        advance(to: now)
        let byShare = configuration.percent * requestsInWindow / 100 - retriesInWindow
        let byFloor = configuration.minRetriesPerSecond - buckets[currentIndex].retries
        return max(0, byShare, byFloor)
    }

    private mutating func advance(to now: Double) {
        let tick = Int64((now / bucketSeconds).rounded(.down))
        guard let current = currentTick else {
            currentTick = tick
            return
        }
        // A clock that steps back keeps counting into the current bucket.
        guard tick > current else { return }
        let steps = Int(min(tick - current, Int64(buckets.count)))
        for _ in 0..<steps {
            currentIndex = (currentIndex + 1) % buckets.count
            requestsInWindow -= buckets[currentIndex].requests
            retriesInWindow -= buckets[currentIndex].retries
            buckets[currentIndex] = Bucket()
        }
        currentTick = tick
    }
}
