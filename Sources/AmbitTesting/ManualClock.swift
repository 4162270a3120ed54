import AmbitCore
import NIOConcurrencyHelpers

/// A wall clock that moves only when a test says so. Sleepers wake when `advance` passes
/// their deadline, so a 24-hour certificate lifetime is tested in microseconds.
public final class ManualClock: WallClock {
    private struct Sleeper {
        let id: Int
        let deadline: Double
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Double
        var sleepers: [Sleeper] = []
        var nextID = 0
        var cancelled: Set<Int> = []
    }

    private let state: NIOLockedValueBox<State>

    public init(now: Double = 1_800_000_000) {
        state = NIOLockedValueBox(State(now: now))
    }

    public func now() -> Double { state.withLockedValue { $0.now } }

    public func sleep(until deadline: Double) async throws {
        let id = state.withLockedValue { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool? = state.withLockedValue { s in
                    if s.cancelled.remove(id) != nil { return false }
                    if deadline <= s.now { return true }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                switch resumeNow {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let sleeper = state.withLockedValue { s -> Sleeper? in
                if let index = s.sleepers.firstIndex(where: { $0.id == id }) { return s.sleepers.remove(at: index) }
                s.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has passed.
    public func advance(by seconds: Double) {
        let due = state.withLockedValue { s -> [Sleeper] in
            s.now += seconds
            let due = s.sleepers.filter { $0.deadline <= s.now }
            s.sleepers.removeAll { $0.deadline <= s.now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves time to `moment` (no-op if it is in the past).
    public func advance(to moment: Double) {
        advance(by: max(0, moment - now()))
    }

    public var sleeperCount: Int { state.withLockedValue { $0.sleepers.count } }

    /// The earliest deadline anyone sleeps until.
    public var nextDeadline: Double? { state.withLockedValue { $0.sleepers.map(\.deadline).min() } }

    /// Waits (in real time, briefly) until at least `count` tasks sleep on this clock, so a
    /// test advances time only once the code under test is waiting for it.
    public func waitForSleepers(_ count: Int = 1, timeoutSeconds: Double = 5) async throws {
        let start = SystemWallClock().now()
        while sleeperCount < count {
            if SystemWallClock().now() - start > timeoutSeconds {
                throw TestFailure("timed out waiting for \(count) sleeper(s) on the manual clock; \(sleeperCount) waiting")
            }
            try await Task.sleep(nanoseconds: 1_000_000)
        }
    }
}

/// A failure raised by a test helper, with a message that says what was being waited for.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` in real time until it holds, or fails naming what was awaited. For
/// effects of work on other threads (event loops, the concurrency pool) that a test cannot
/// await directly.
public func waitUntil(
    _ what: String, timeoutSeconds: Double = 10, _ condition: () async throws -> Bool
) async throws {
    let start = SystemWallClock().now()
    while !(try await condition()) {
        if SystemWallClock().now() - start > timeoutSeconds {
            throw TestFailure("timed out after \(timeoutSeconds) s waiting until \(what)")
        }
        try await Task.sleep(nanoseconds: 1_000_000)
    }
}
