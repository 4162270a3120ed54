// Which requests fail and which are slowed down: decided from the instance's flags, the
// request's own override headers and the instance's request count, with no I/O, so the
// exact pattern is unit-tested.

/// How `--fail-percent` picks the requests that fail.
public enum FailMode: String, Sendable, CaseIterable {
    /// Request n (0-based) fails when ⌈(n+1)·p/100⌉ > ⌈n·p/100⌉: exactly ⌈k·p/100⌉ of the
    /// first k requests fail, spread evenly, starting with the first. 50 % alternates
    /// fail, pass, fail, pass.
    case spread
    /// Each request fails with probability p/100, from the injected random source.
    case random
}

/// The request headers a test can send to override the instance's behaviour for one request.
public enum OverrideHeader {
    /// Answer with this status code (100–599) instead of 200.
    public static let status = "x-testapp-status"
    /// Wait this many milliseconds before answering.
    public static let delayMilliseconds = "x-testapp-delay-ms"
    /// Apply the failure (the `x-testapp-status` override or `--fail-code`) only while the
    /// request's `x-envoy-attempt-count` (1 when absent) is at most this number, so a test
    /// can make the first N attempts fail and the next one succeed.
    public static let failAttempts = "x-testapp-fail-attempts"
    /// Pad (or cut) the response body to this many bytes, for payload-size tests.
    public static let bodyBytes = "x-testapp-body-bytes"
    /// Set by proxies that retry (Envoy, Ambit's waypoint): the attempt number, from 1.
    public static let attemptCount = "x-envoy-attempt-count"
}

/// What the server does with one request.
public struct FaultDecision: Equatable, Sendable {
    public var status: Int
    public var delayMilliseconds: Int64
    /// True when the status is a failure this plan injected (it is counted in /stats).
    public var injected: Bool
}

/// The instance-wide fault settings (`serve` flags).
public struct FaultSettings: Sendable, Equatable {
    public var failPercent: Double
    public var failCode: Int
    public var failMode: FailMode
    public var delayMilliseconds: Int64

    public init(failPercent: Double = 0, failCode: Int = 500, failMode: FailMode = .spread, delayMilliseconds: Int64 = 0) {
        self.failPercent = failPercent
        self.failCode = failCode
        self.failMode = failMode
        self.delayMilliseconds = delayMilliseconds
    }
}

/// The override headers of one request, already parsed; nil fields were not sent (or
/// were not numbers, which the server reports as a 400 before asking the plan).
public struct RequestOverrides: Equatable, Sendable {
    public var status: Int?
    public var delayMilliseconds: Int64?
    public var failAttempts: Int?
    public var attempt: Int

    public init(status: Int? = nil, delayMilliseconds: Int64? = nil, failAttempts: Int? = nil, attempt: Int = 1) {
        self.status = status
        self.delayMilliseconds = delayMilliseconds
        self.failAttempts = failAttempts
        self.attempt = attempt
    }
}

public enum FaultPlan {
    /// Decides one request. `index` is this request's 0-based position among the
    /// instance's fault-eligible requests; `random` yields a number in [0, 1).
    public static func decide(
        settings: FaultSettings, overrides: RequestOverrides, index: Int, random: () -> Double
    ) -> FaultDecision {
        let delay = overrides.delayMilliseconds ?? settings.delayMilliseconds
        let attemptMayFail = overrides.failAttempts.map { overrides.attempt <= $0 } ?? true
        if let status = overrides.status {
            // An explicit status is what the test asked for; it ignores --fail-percent.
            if attemptMayFail { return FaultDecision(status: status, delayMilliseconds: delay, injected: status >= 500) }
            return FaultDecision(status: 200, delayMilliseconds: delay, injected: false)
        }
        if attemptMayFail && fails(percent: settings.failPercent, mode: settings.failMode, index: index, random: random) {
            return FaultDecision(status: settings.failCode, delayMilliseconds: delay, injected: true)
        }
        return FaultDecision(status: 200, delayMilliseconds: delay, injected: false)
    }

    static func fails(percent: Double, mode: FailMode, index: Int, random: () -> Double) -> Bool {
        if percent <= 0 { return false }
        if percent >= 100 { return true }
        switch mode {
        case .random:
            return random() * 100 < percent
        case .spread:
            // Integer arithmetic in hundredths of a percent, so 33.33 % is exact enough and
            // no floating-point rounding decides a boundary.
            let p = Int((percent * 100).rounded())
            func failedBefore(_ k: Int) -> Int { (k * p + 9_999) / 10_000 }
            return failedBefore(index + 1) > failedBefore(index)
        }
    }
}
