import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct RequestDeadlinesTests {
    let start = 1_000.0

    @Test func noTimeoutsMeansNoTimer() {
        let deadlines = RequestDeadlines(HTTPRoute.Timeouts(), requestStartedAt: start)
        #expect(deadlines.deadline(forAttemptStartedAt: start) == nil)
        #expect(deadlines.expired(attemptStartedAt: start, now: start + 86_400) == nil)
    }

    @Test func zeroDisablesEither() {
        let deadlines = RequestDeadlines(HTTPRoute.Timeouts(request: .zero, backendRequest: .zero), requestStartedAt: start)
        #expect(deadlines.deadline(forAttemptStartedAt: start) == nil)
        let perTryOnly = RequestDeadlines(HTTPRoute.Timeouts(request: .zero, backendRequest: .milliseconds(200)), requestStartedAt: start)
        #expect(perTryOnly.deadline(forAttemptStartedAt: start)?.kind == .backendRequest)
    }

    @Test func theRequestTimeoutCoversEveryAttempt() {
        let deadlines = RequestDeadlines(HTTPRoute.Timeouts(request: .seconds(1)), requestStartedAt: start)
        for attemptStart in [start, start + 0.4, start + 0.9] {
            #expect(deadlines.deadline(forAttemptStartedAt: attemptStart).matches(start + 1, .request))
        }
        #expect(deadlines.expired(attemptStartedAt: start + 0.9, now: start + 0.999) == nil)
        #expect(deadlines.expired(attemptStartedAt: start + 0.9, now: start + 1) == .request)
    }

    @Test func thePerTryTimeoutRestartsWithEachAttempt() {
        let deadlines = RequestDeadlines(HTTPRoute.Timeouts(backendRequest: .milliseconds(250)), requestStartedAt: start)
        #expect(deadlines.deadline(forAttemptStartedAt: start).matches(start + 0.25, .backendRequest))
        #expect(deadlines.deadline(forAttemptStartedAt: start + 0.3).matches(start + 0.55, .backendRequest))
        #expect(deadlines.expired(attemptStartedAt: start + 0.3, now: start + 0.5) == nil)
        #expect(deadlines.expired(attemptStartedAt: start + 0.3, now: start + 0.56) == .backendRequest)
    }

    /// A request with a 100 ms per-try and a 250 ms overall timeout against a backend that
    /// never answers: two attempts time out on their own, the third is cut by the request
    /// timeout, and the client gets 504 UT at 250 ms.
    @Test func bothTimeoutsFireInOneRequest() throws {
        let deadlines = RequestDeadlines(
            HTTPRoute.Timeouts(request: .milliseconds(250), backendRequest: .milliseconds(100)), requestStartedAt: start)
        var retry = RetryState(policy: RetryPolicy(HTTPRoute.Retry(codes: [504], attempts: 5, backoff: .milliseconds(10))), method: "GET", bodyBuffered: true)
        var random = FastRandom(seed: 3)
        var now = start
        var fired: [RequestDeadlines.Kind] = []
        while true {
            let attemptStart = now
            let deadline = try #require(deadlines.deadline(forAttemptStartedAt: attemptStart))
            now = deadline.at  // the backend never answers; the timer fires
            #expect(deadlines.expired(attemptStartedAt: attemptStart, now: now) == deadline.kind)
            fired.append(deadline.kind)
            if deadline.kind == .request { break }
            guard let wait = retry.next(after: .perTryTimeout, using: &random) else { break }
            now += wait / .seconds(1)
        }
        #expect(fired == [.backendRequest, .backendRequest, .request])
        #expect(retry.attempt == 3)
        #expect(abs(now - (start + 0.25)) < 1e-9)
        #expect(ResilienceReply.upstreamTimeout.status == 504)
        #expect(ResilienceReply.upstreamTimeout.responseFlag == "UT")
    }

    @Test func theRequestDeadlineWinsWhenItComesFirst() {
        let deadlines = RequestDeadlines(HTTPRoute.Timeouts(request: .seconds(1), backendRequest: .milliseconds(500)), requestStartedAt: start)
        #expect(deadlines.deadline(forAttemptStartedAt: start + 0.2).matches(start + 0.7, .backendRequest))
        #expect(deadlines.deadline(forAttemptStartedAt: start + 0.8).matches(start + 1, .request))
        #expect(deadlines.deadline(forAttemptStartedAt: start + 0.5).matches(start + 1, .request))
    }

    @Test func aRetryThatCannotStartInTimeIsNotWaitedFor() {
        let deadlines = RequestDeadlines(HTTPRoute.Timeouts(request: .seconds(1)), requestStartedAt: start)
        #expect(deadlines.leavesRoom(forRetryAfter: .milliseconds(100), now: start + 0.5))
        #expect(!deadlines.leavesRoom(forRetryAfter: .milliseconds(100), now: start + 0.95))
        let unlimited = RequestDeadlines(HTTPRoute.Timeouts(), requestStartedAt: start)
        #expect(unlimited.leavesRoom(forRetryAfter: .seconds(3600), now: start))
    }
}

extension Optional<RequestDeadlines.Deadline> {
    /// Same kind, at the same instant give or take floating-point rounding.
    func matches(_ at: Double, _ kind: RequestDeadlines.Kind) -> Bool {
        guard let self else { return false }
        return self.kind == kind && abs(self.at - at) < 1e-9
    }
}
