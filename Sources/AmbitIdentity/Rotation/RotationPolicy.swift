/// When to renew a certificate and how long to wait after a failed attempt. Pure
/// arithmetic, so the schedule is tested without a clock.
///
/// Renewal starts at a fixed fraction of the lifetime (half, as Istio and Linkerd do),
/// clamped so that very short certificates are not renewed in a tight loop and very long
/// ones are still refreshed now and then. Failures back off exponentially with full jitter
/// so that a fleet of nodes that lost the CA together does not come back in lockstep.
public struct RotationPolicy: Sendable, Hashable {
    /// Fraction of the lifetime after which renewal starts.
    public var refreshFraction: Double = 0.5
    /// Never refresh sooner than this after issue (seconds).
    public var minimumRefreshInterval: Double = 10
    /// Never wait longer than this before refreshing (seconds).
    public var maximumRefreshInterval: Double = 7 * 24 * 3600
    /// First retry waits up to this long (seconds).
    public var retryBase: Double = 1
    /// No retry waits longer than this (seconds).
    public var retryCap: Double = 60

    public init() {}

    /// The moment (seconds since the epoch) renewal of a certificate valid over
    /// `[notBefore, notAfter]` should start.
    public func refreshTime(notBefore: Double, notAfter: Double) -> Double {
        let lifetime = max(0, notAfter - notBefore)
        let interval = min(max(lifetime * refreshFraction, minimumRefreshInterval), maximumRefreshInterval)
        // A refresh after expiry is useless; keep it strictly inside the lifetime when we can.
        return min(notBefore + interval, notAfter - min(1, lifetime / 10))
    }

    /// How long to wait after the `attempt`-th consecutive failure (1-based), given a
    /// uniform random number in [0, 1).
    public func retryDelay(attempt: Int, random: Double) -> Double {
        let exponent = Double(min(max(attempt - 1, 0), 30))
        let ceiling = min(retryCap, retryBase * pow2(exponent))
        return ceiling * min(max(random, 0), 1)
    }

    private func pow2(_ x: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(x) { r *= 2 }
        return r
    }
}
