import AmbitWaypoint
import Testing

@Suite struct RetryBackoffTests {
    @Test func upperBoundsDoubleFromTheBaseUpToTenTimesIt() {
        let backoff = RetryBackoff()
        #expect(backoff.base == .milliseconds(25))
        #expect(backoff.cap == .milliseconds(250))
        #expect(backoff.upperBound(beforeRetry: 1) == .milliseconds(25))
        #expect(backoff.upperBound(beforeRetry: 2) == .milliseconds(75))
        #expect(backoff.upperBound(beforeRetry: 3) == .milliseconds(175))
        #expect(backoff.upperBound(beforeRetry: 4) == .milliseconds(250))
        #expect(backoff.upperBound(beforeRetry: 63) == .milliseconds(250))
        #expect(backoff.upperBound(beforeRetry: 1000) == .milliseconds(250))

        let slow = RetryBackoff(base: .milliseconds(100))
        #expect(slow.upperBound(beforeRetry: 3) == .milliseconds(700))
        #expect(slow.upperBound(beforeRetry: 5) == .seconds(1))
    }

    @Test func drawsAreFullyJitteredWithinTheBound() {
        var random = FastRandom(seed: 7)
        let backoff = RetryBackoff()
        for retry in 1...6 {
            let bound = backoff.upperBound(beforeRetry: retry) / .milliseconds(1)
            var sum = 0.0
            var largest = 0.0
            var smallest = Double.infinity
            let draws = 20_000
            for _ in 0..<draws {
                let wait = backoff.delay(beforeRetry: retry, using: &random) / .milliseconds(1)
                #expect(wait >= 0 && wait < bound)
                sum += wait
                largest = max(largest, wait)
                smallest = min(smallest, wait)
            }
            // Uniform over [0, bound): the mean sits at the middle and draws reach both ends.
            #expect(abs(sum / Double(draws) - bound / 2) < bound * 0.02, "retry \(retry)")
            #expect(largest > bound * 0.99)
            #expect(smallest < bound * 0.01)
        }
    }

    @Test func aZeroBaseNeverWaits() {
        var random = FastRandom(seed: 1)
        #expect(RetryBackoff(base: .zero).delay(beforeRetry: 3, using: &random) == .zero)
    }

    @Test func theSameSeedGivesTheSameWaits() {
        var a = FastRandom(seed: 99)
        var b = FastRandom(seed: 99)
        let backoff = RetryBackoff()
        let first = (1...5).map { backoff.delay(beforeRetry: $0, using: &a) }
        let second = (1...5).map { backoff.delay(beforeRetry: $0, using: &b) }
        #expect(first == second)
    }
}
