/// The clock that timed logic (certificate rotation, backoff, idle timers) runs on.
///
/// Production code uses `SystemWallClock`; tests inject a manual clock so that a 24-hour
/// certificate lifetime, or a backoff sequence, is checked in microseconds without sleeping.
/// Time is in seconds since the Unix epoch because certificates speak wall time.
public protocol WallClock: Sendable {
    /// Seconds since 1970-01-01T00:00:00Z.
    func now() -> Double
    /// Suspends until `deadline` (seconds since the epoch) or until cancelled.
    func sleep(until deadline: Double) async throws
}

extension WallClock {
    public func sleep(for seconds: Double) async throws {
        try await sleep(until: now() + seconds)
    }
}
