import AmbitCore
import NIOCore
import NIOHTTP1

/// The attempt loop of one request, Envoy's router in small:
///
/// 1. `beginAttempts` starts the request's clock (`timeouts.request`) and sends attempt 1;
/// 2. `startAttempt` asks the destination's balancer for an endpoint (ejected hosts are
///    already out of it), stamps `x-envoy-attempt-count`, arms the attempt's timer (the
///    earlier of the per-try and the request deadline) and takes an upstream exchange
///    from the loop's pool;
/// 3. each attempt ends in an `AttemptOutcome` (a status, a connect failure, a reset, a
///    per-try timeout) that is fed to outlier detection and to the retry state; a retry
///    waits its jittered backoff on the loop's timer and goes back to 2, on a possibly
///    different endpoint, replaying the buffered request;
/// 4. otherwise the last response is forwarded (flag `URX` when retries ran out), or the
///    failure answered locally (503 UF/UC, 504 UT).
///
/// Everything runs on the request's event loop: timers are `scheduleTask`, never a Task.
/// A request without retry, timeouts or outlier detection pays for none of it.
extension DownstreamHTTPHandler {
    func beginAttempts(_ exchange: Exchange) {
        if let rule = exchange.forward?.rule, rule.hasTimeouts {
            exchange.deadlines = RequestDeadlines(rule.timeouts, requestStartedAt: session.loop.seconds)
        }
        startAttempt(exchange)
    }

    func startAttempt(_ exchange: Exchange) {
        guard let forward = exchange.forward, let context else { return }
        let destination = forward.destination
        guard let (lease, endpoint) = destination.pick(hash: forward.hash) else {
            respondLocally(.noHealthyUpstream(forward.backend), exchange: exchange, context: context)
            return
        }
        exchange.lease = lease
        exchange.endpoint = endpoint
        exchange.attempts += 1
        exchange.attemptToken &+= 1
        let token = exchange.attemptToken
        destination.metrics.attempts.increment()
        if exchange.attempts > 1 { destination.metrics.retries.increment() }

        var head = exchange.upstreamHead!
        head.headers.replaceOrAdd(name: RetryState.attemptCountHeaderName, value: String(exchange.attempts))
        if exchange.attempts == 1 {
            exchange.pending.insert(.head(head), at: 0)
        } else {
            exchange.pending = [.head(head)] + (exchange.replay ?? [])
        }
        if let deadlines = exchange.deadlines { armTimer(exchange, deadline: deadlines.deadline(forAttemptStartedAt: session.loop.seconds)) }

        session.pool.acquire(endpoint, kind: isHTTP2 ? .http2 : .http1) { result in
            switch result {
            case .success(let upstream):
                guard self.exchange === exchange, exchange.attemptToken == token, !exchange.answeredLocally, let context = self.context else {
                    // The attempt was abandoned while connecting: an unused connection is still good.
                    self.session.pool.release(upstream, reusable: true)
                    return
                }
                self.attach(upstream, to: exchange, context: context)
            case .failure(let error):
                guard self.exchange === exchange, exchange.attemptToken == token, !exchange.answeredLocally else { return }
                self.attemptFailed(exchange, outcome: .connectFailure, reply: .connectFailure(error))
            }
        }
    }

    /// An attempt ended without a response to forward: retry it, or answer `reply`.
    func attemptFailed(_ exchange: Exchange, outcome: AttemptOutcome, reply: LocalReply) {
        guard let context else { return }
        endAttempt(exchange, outcome: outcome)
        if let wait = retryWait(exchange, after: outcome) {
            retry(exchange, after: wait)
        } else {
            respondLocally(reply, exchange: exchange, context: context, extraFlag: exchange.retry?.responseFlag)
        }
    }

    /// Response headers arrived: decides whether they end the attempt in a retry. True when
    /// the response was dropped and a retry scheduled.
    func responseHeadRetries(_ head: HTTPResponseHead, exchange: Exchange) -> Bool {
        guard let forward = exchange.forward else { return false }
        // The per-try timeout covers the wait for headers; the request deadline stays.
        if exchange.deadlines?.perTrySeconds != nil { armTimer(exchange, deadline: requestDeadline(exchange)) }
        guard exchange.retry != nil || forward.destination.outlier != nil else { return false }
        let outcome = AttemptOutcome(httpStatus: Int(head.status.code), grpcStatusHeader: head.headers.first(name: "grpc-status"))
        if let lease = exchange.lease { forward.destination.record(outcome, lease: lease, on: session.loop) }
        guard exchange.retry != nil else { return false }
        guard let wait = retryWait(exchange, after: outcome) else {
            if exchange.retry?.responseFlag != nil { exchange.flags = "URX" }
            return false
        }
        // The answer is not forwarded; the exchange cannot carry another request in step.
        let upstream = exchange.upstream
        exchange.upstream = nil
        upstream?.abort()
        endAttempt(exchange, outcome: nil)
        retry(exchange, after: wait)
        return true
    }

    /// Gives back what the attempt holds: its balancer lease (and, when `outcome` is given,
    /// reports it to outlier detection), a retry slot, its timer. Safe to call twice.
    func endAttempt(_ exchange: Exchange, outcome: AttemptOutcome?) {
        exchange.attemptToken &+= 1
        guard let forward = exchange.forward else { return }
        let destination = forward.destination
        if let lease = exchange.lease {
            exchange.lease = nil
            destination.balancer.release(lease)
            if let outcome { destination.record(outcome, lease: lease, on: session.loop) }
        }
        if exchange.holdsRetrySlot {
            exchange.holdsRetrySlot = false
            destination.breaker.release(.retry)
        }
        if outcome != nil || exchange.responseEnded {
            exchange.timer?.cancel()
            exchange.timer = nil
        }
    }

    /// The wait before the next attempt, or nil when the request is done (the retry state
    /// says why). Charges the retry budget and the pool's `maxRetries` only for a retry
    /// that will happen.
    private func retryWait(_ exchange: Exchange, after outcome: AttemptOutcome) -> Duration? {
        guard var retry = exchange.retry, let destination = exchange.forward?.destination else { return nil }
        // A body still streaming (or past the buffer) cannot be sent again.
        if !exchange.requestEnded || exchange.replay == nil { retry.bodyOutgrewBuffer() }
        let loop = session.loop
        let now = loop.seconds
        let wait = retry.next(after: outcome, using: &loop.random) {
            guard destination.breaker.tryAcquire(.retry) else { return false }
            if destination.budget.tryWithdraw(now: now) { return true }
            destination.breaker.release(.retry)
            return false
        }
        exchange.retry = retry
        guard let wait else {
            if retry.responseFlag != nil { destination.metrics.retryLimitExceeded.increment() }
            return nil
        }
        exchange.holdsRetrySlot = true
        if let deadlines = exchange.deadlines, !deadlines.leavesRoom(forRetryAfter: wait, now: now) {
            // The retry would start after the request deadline: answer now rather than
            // wait for a 504 that is certain.
            exchange.holdsRetrySlot = false
            destination.breaker.release(.retry)
            return nil
        }
        return wait
    }

    private func retry(_ exchange: Exchange, after wait: Duration) {
        exchange.pending = []
        exchange.timer?.cancel()
        exchange.timer = nil
        guard wait > .zero else { return startAttempt(exchange) }
        exchange.timer = session.loop.loop.scheduleTask(in: .nanoseconds(RetryBackoff.nanoseconds(wait))) { [weak self] in
            guard let self, self.exchange === exchange else { return }
            exchange.timer = nil
            self.startAttempt(exchange)
        }
    }

    // MARK: - Mirrors

    /// The request is complete and buffered: each mirror backend gets a copy, fire and
    /// forget (`MirrorExchange`). A body too large to keep is not mirrored.
    func sendMirrors(_ exchange: Exchange) {
        guard let forward = exchange.forward, !forward.mirrors.isEmpty, let replay = exchange.replay, var head = exchange.upstreamHead else { return }
        // Envoy's and Istio's convention: the copy's authority says it is a shadow, so the
        // mirror's logs and routes can tell copies from real traffic.
        if let host = head.headers.first(name: "host") { head.headers.replaceOrAdd(name: "host", value: Self.shadowHost(host)) }
        for backend in forward.mirrors {
            let destination = session.loop.destination(backend, plain: session.plain, metrics: session.telemetry.upstream)
            MirrorExchange.send(head: head, parts: replay, to: destination, pool: session.pool, kind: isHTTP2 ? .http2 : .http1)
        }
    }

    /// `echo:80` → `echo-shadow:80`.
    static func shadowHost(_ host: String) -> String {
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]"), host[host.index(after: colon)...].allSatisfy(\.isNumber) {
            return host[..<colon] + "-shadow" + host[colon...]
        }
        return host + "-shadow"
    }

    // MARK: - Timeouts

    private func requestDeadline(_ exchange: Exchange) -> RequestDeadlines.Deadline? {
        exchange.deadlines?.requestDeadline.map { RequestDeadlines.Deadline(at: $0, kind: .request) }
    }

    private func armTimer(_ exchange: Exchange, deadline: RequestDeadlines.Deadline?) {
        exchange.timer?.cancel()
        exchange.timer = nil
        guard let deadline else { return }
        let at = NIODeadline.uptimeNanoseconds(UInt64(max(0, deadline.at) * 1e9))
        exchange.timer = session.loop.loop.scheduleTask(deadline: at) { [weak self] in
            guard let self, self.exchange === exchange, !exchange.completed else { return }
            exchange.timer = nil
            self.timedOut(exchange, kind: deadline.kind)
        }
    }

    /// A deadline passed: the attempt's upstream exchange is closed (never reused: it is
    /// mid-message), then a per-try timeout goes to the retry decision and a request
    /// timeout answers 504 `UT`, or breaks a response already under way.
    private func timedOut(_ exchange: Exchange, kind: RequestDeadlines.Kind) {
        guard let context, let forward = exchange.forward else { return }
        forward.destination.metrics.timeouts.increment()
        let upstream = exchange.upstream
        exchange.upstream = nil
        upstream?.abort()
        if exchange.responseStarted {
            endAttempt(exchange, outcome: nil)
            exchange.flags = ResponseFlag.upstreamRequestTimeout
            breakResponse(exchange, context: context)
        } else if kind == .backendRequest {
            attemptFailed(exchange, outcome: .perTryTimeout, reply: .upstreamTimeout)
        } else {
            endAttempt(exchange, outcome: .perTryTimeout)
            respondLocally(.upstreamTimeout, exchange: exchange, context: context)
        }
    }
}
