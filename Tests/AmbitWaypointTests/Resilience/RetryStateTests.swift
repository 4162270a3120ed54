import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct RetryStateTests {
    func policy(codes: [Int] = [503], attempts: Int = 2) -> RetryPolicy {
        RetryPolicy(HTTPRoute.Retry(codes: codes, attempts: attempts))
    }

    @Test func noStanzaMeansNoRetry() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: RetryPolicy(route: nil), method: "GET", bodyBuffered: true)
        #expect(attempt.next(after: .status(503), using: &random) == nil)
        #expect(attempt.stopReason == .notConfigured)
        #expect(attempt.next(after: .connectFailure, using: &random) == nil)
        #expect(attempt.attempt == 1)
        #expect(attempt.responseFlag == nil)
    }

    @Test func postIsNotRetriedWithoutConfiguration() {
        var random = FastRandom(seed: 42)
        for outcome in [AttemptOutcome.status(503), .status(500), .connectFailure, .refusedStream, .reset, .perTryTimeout] {
            var attempt = RetryState(policy: nil, method: "POST", bodyBuffered: true)
            #expect(attempt.next(after: outcome, using: &random) == nil, "POST retried after \(outcome)")
            #expect(attempt.attempt == 1)
        }
    }

    @Test func zeroAttemptsTurnsRetryingOff() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: policy(attempts: 0), method: "GET", bodyBuffered: true)
        #expect(attempt.next(after: .status(503), using: &random) == nil)
        #expect(attempt.stopReason == .notConfigured)
    }

    @Test func onlyListedCodesAreRetried() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: policy(codes: [502, 503]), method: "GET", bodyBuffered: true)
        #expect(attempt.next(after: .status(500), using: &random) == nil)
        #expect(attempt.stopReason == .notRetriable)
        #expect(attempt.next(after: .status(404), using: &random) == nil)
        #expect(attempt.next(after: .status(503), using: &random) != nil)
        #expect(attempt.stopReason == nil)
        #expect(attempt.attempt == 2)
    }

    @Test func connectionFailuresAreRetriedOnceAStanzaExists() {
        var random = FastRandom(seed: 42)
        for method in ["GET", "POST", "PATCH"] {
            for outcome in [AttemptOutcome.connectFailure, .refusedStream] {
                var attempt = RetryState(policy: policy(codes: []), method: method, bodyBuffered: true)
                #expect(attempt.next(after: outcome, using: &random) != nil, "\(method) not retried after \(outcome)")
            }
        }
    }

    @Test func aResetIsRetriedOnlyForIdempotentMethods() {
        var random = FastRandom(seed: 42)
        for method in ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"] {
            var attempt = RetryState(policy: policy(), method: method, bodyBuffered: true)
            #expect(attempt.next(after: .reset, using: &random) != nil, "\(method)")
        }
        for method in ["POST", "PATCH", "CONNECT", "PURGE"] {
            var attempt = RetryState(policy: policy(codes: [500, 502, 503, 504]), method: method, bodyBuffered: true)
            #expect(attempt.next(after: .reset, using: &random) == nil, "\(method)")
            #expect(attempt.stopReason == .notRetriable)
        }
    }

    @Test func listedCodesRetryNonIdempotentMethodsBecauseTheRouteSaysSo() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: policy(codes: [503]), method: "POST", bodyBuffered: true)
        #expect(attempt.next(after: .status(503), using: &random) != nil)
    }

    @Test func perTryTimeoutFollowsIdempotenceOr504() {
        var random = FastRandom(seed: 42)
        var get = RetryState(policy: policy(codes: [503]), method: "GET", bodyBuffered: true)
        #expect(get.next(after: .perTryTimeout, using: &random) != nil)
        var post = RetryState(policy: policy(codes: [503]), method: "POST", bodyBuffered: true)
        #expect(post.next(after: .perTryTimeout, using: &random) == nil)
        var postWith504 = RetryState(policy: policy(codes: [504]), method: "POST", bodyBuffered: true)
        #expect(postWith504.next(after: .perTryTimeout, using: &random) != nil)
    }

    @Test func anUnbufferedBodyIsNeverRetried() {
        var random = FastRandom(seed: 42)
        var large = RetryState(policy: policy(), method: "GET", bodyBuffered: false)
        #expect(large.next(after: .connectFailure, using: &random) == nil)
        #expect(large.stopReason == .bodyNotBuffered)

        var grew = RetryState(policy: policy(), method: "PUT", bodyBuffered: true)
        #expect(grew.next(after: .status(503), using: &random) != nil)
        grew.bodyOutgrewBuffer()
        #expect(grew.next(after: .status(503), using: &random) == nil)
        #expect(grew.stopReason == .bodyNotBuffered)
        #expect(RetryPolicy.maxBufferedBodyBytes == 65_536)
    }

    @Test func attemptsAreCountedAndTheLimitGivesURX() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: policy(attempts: 2), method: "GET", bodyBuffered: true)
        #expect(RetryState.attemptCountHeaderName == "x-envoy-attempt-count")
        #expect(attempt.attemptCountHeader == "1")
        #expect(attempt.next(after: .status(503), using: &random) != nil)
        #expect(attempt.attemptCountHeader == "2")
        #expect(attempt.next(after: .connectFailure, using: &random) != nil)
        #expect(attempt.attemptCountHeader == "3")
        #expect(attempt.retriesUsed == 2)
        #expect(attempt.next(after: .status(503), using: &random) == nil)
        #expect(attempt.stopReason == .limitReached)
        #expect(attempt.responseFlag == "URX")
        #expect(attempt.attempt == 3)
    }

    @Test func theWaitGrowsWithEachRetry() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: policy(attempts: 10), method: "GET", bodyBuffered: true)
        let backoff = RetryBackoff()
        for retry in 1...10 {
            let wait = attempt.next(after: .status(503), using: &random)
            #expect(wait != nil)
            #expect(wait! >= .zero && wait! < backoff.upperBound(beforeRetry: retry))
        }
    }

    @Test func grpcStatusesMapToTheCodesTheyAreListedAs() {
        var random = FastRandom(seed: 42)
        #expect(AttemptOutcome(httpStatus: 200, grpcStatusHeader: "14") == .grpcStatus(14))
        #expect(AttemptOutcome(httpStatus: 200, grpcStatusHeader: "0") == .status(200))
        #expect(AttemptOutcome(httpStatus: 503, grpcStatusHeader: nil) == .status(503))

        let retried: [(grpc: Int, http: Int)] = [(1, 499), (4, 504), (8, 429), (13, 500), (14, 503)]
        for (grpc, http) in retried {
            var listed = RetryState(policy: policy(codes: [http]), method: "POST", bodyBuffered: true)
            #expect(listed.next(after: .grpcStatus(grpc), using: &random) != nil, "grpc \(grpc) with \(http) listed")
            var unlisted = RetryState(policy: policy(codes: [http == 503 ? 500 : 503]), method: "POST", bodyBuffered: true)
            #expect(unlisted.next(after: .grpcStatus(grpc), using: &random) == nil, "grpc \(grpc) without \(http)")
        }
        // UNKNOWN (2) and NOT_FOUND (5) are never retried, whatever is listed.
        var attempt = RetryState(policy: policy(codes: [500, 502, 503, 504, 404]), method: "POST", bodyBuffered: true)
        #expect(attempt.next(after: .grpcStatus(2), using: &random) == nil)
        #expect(attempt.next(after: .grpcStatus(5), using: &random) == nil)
    }

    @Test func aRefusedPermitStopsWithoutSpendingAnAttempt() {
        var random = FastRandom(seed: 42)
        var attempt = RetryState(policy: policy(), method: "GET", bodyBuffered: true)
        #expect(attempt.next(after: .status(503), using: &random, permit: { false }) == nil)
        #expect(attempt.stopReason == .retryOverflow)
        #expect(attempt.attempt == 1)
        #expect(attempt.responseFlag == nil)

        var asked = 0
        var notRetriable = RetryState(policy: policy(), method: "GET", bodyBuffered: true)
        _ = notRetriable.next(after: .status(500), using: &random, permit: { asked += 1; return true })
        #expect(asked == 0, "the budget is charged only for a retry that would happen")
    }
}
