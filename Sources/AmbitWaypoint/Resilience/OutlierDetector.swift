import AmbitCore

/// Passive health checking of one destination's endpoints (Istio's `outlierDetection`,
/// Envoy's outlier detector): a host that fails several requests in a row is taken out of
/// load balancing for a while, and comes back by itself.
///
/// - `consecutive5xxErrors` (default 5; 0 off): 5xx answers in a row, connection
///   failures, resets and timeouts included (Envoy without split local-origin errors).
/// - `consecutiveGatewayErrors` (default 0: off): 502, 503, 504, connection failures,
///   resets and timeouts in a row. A 500 breaks this run; any non-5xx answer breaks both.
/// - An ejected host stays out for `baseEjectionTime × multiplier`, capped at 300 s (or at
///   the base time, if that is longer). Each ejection raises the multiplier; each full
///   `interval` a returned host stays healthy lowers it by one, so a host that failed
///   once long ago is not punished as a repeat offender.
/// - `maxEjectionPercent` bounds the share of hosts out at once, but one host can always
///   be ejected, so a destination with few hosts still loses its broken one.
/// - `minHealthPercent` is not enforced here: it is the balancer's panic threshold
///   (`EndpointBalancer`), which stops honouring ejections when too few hosts are left.
///
/// Ejection happens at once, on the failure that crosses the threshold. Returns happen in
/// `tick(now:)`, which the owner calls at `nextTick` (the earlier of the next interval
/// and the next return), so a host comes back exactly when its time is up.
///
/// A value the owner mutates, one per destination (service, or service subset). Envoy
/// keeps one per cluster on its main thread; Ambit's proxy keeps one per destination per
/// event loop, or one behind a lock when it runs several loops and wants them to agree.
public struct OutlierDetector: Sendable {
    public enum Event: Hashable, Sendable {
        case ejected(HostPort, until: Double)
        case returned(HostPort)
    }

    /// Envoy's `max_ejection_time` default.
    public static let maximumEjectionTime = Duration.seconds(300)

    private struct HostState {
        var consecutive5xx = 0
        var consecutiveGateway = 0
        /// Ejections not yet forgiven by healthy intervals.
        var multiplier = 0
        var ejectedUntil: Double?
        var returnedAt: Double?
    }

    public let configuration: DestinationRule.OutlierDetection
    private let intervalSeconds: Double
    private let baseEjectionSeconds: Double
    private let maximumEjectionSeconds: Double
    private var hosts: [HostPort: HostState]
    private var nextInterval: Double
    public private(set) var ejectedCount = 0

    public init(_ configuration: DestinationRule.OutlierDetection, hosts: [HostPort], now: Double) {
        self.configuration = configuration
        intervalSeconds = max(0.001, configuration.interval / .seconds(1))
        baseEjectionSeconds = max(0, configuration.baseEjectionTime / .seconds(1))
        maximumEjectionSeconds = max(baseEjectionSeconds, Self.maximumEjectionTime / .seconds(1))
        self.hosts = Dictionary(hosts.map { ($0, HostState()) }, uniquingKeysWith: { first, _ in first })
        nextInterval = now + intervalSeconds
    }

    /// Whether any check is switched on; when not, `record` does nothing.
    public var isEnabled: Bool { configuration.consecutive5xxErrors > 0 || configuration.consecutiveGatewayErrors > 0 }

    public var hostCount: Int { hosts.count }

    public var ejectedHosts: Set<HostPort> { Set(hosts.compactMap { $0.value.ejectedUntil == nil ? nil : $0.key }) }

    public func isEjected(_ host: HostPort) -> Bool { hosts[host]?.ejectedUntil != nil }

    /// The current multiplier of a host's ejection time (0 for a host never ejected, or forgiven).
    public func ejectionMultiplier(of host: HostPort) -> Int { hosts[host]?.multiplier ?? 0 }

    /// When the owner should call `tick` next.
    public var nextTick: Double {
        hosts.values.reduce(nextInterval) { earliest, state in state.ejectedUntil.map { min(earliest, $0) } ?? earliest }
    }

    /// Replaces the host list when endpoints change, keeping what is known about hosts
    /// that stay. A host that leaves while ejected no longer counts toward the limit.
    public mutating func updateHosts(_ newHosts: [HostPort]) {
        var updated: [HostPort: HostState] = [:]
        for host in newHosts { updated[host] = hosts[host] ?? HostState() }
        hosts = updated
        ejectedCount = hosts.values.count(where: { $0.ejectedUntil != nil })
    }

    /// Accounts for the end of one attempt at `host`. Returns the ejection it caused, if any.
    @discardableResult
    public mutating func record(_ outcome: AttemptOutcome, for host: HostPort, now: Double) -> Event? {
        guard isEnabled, var state = hosts[host] else { return nil }
        switch Self.classify(outcome) {
        case .success:
            state.consecutive5xx = 0
            state.consecutiveGateway = 0
        case .serverError:
            state.consecutive5xx += 1
            state.consecutiveGateway = 0
        case .gatewayError:
            state.consecutive5xx += 1
            state.consecutiveGateway += 1
        case .neutral:
            break
        }
        var event: Event?
        if state.ejectedUntil == nil, crossedThreshold(state) {
            // The run is consumed either way: a host the percentage protected starts over
            // rather than being ejected by its very next failure.
            state.consecutive5xx = 0
            state.consecutiveGateway = 0
            if ejectionAllowed {
                // The multiplier stops growing once the ejection time reaches the cap, so
                // forgiveness starts from the cap rather than from an unbounded count.
                let belowCap = baseEjectionSeconds > 0
                    ? baseEjectionSeconds * Double(state.multiplier) < maximumEjectionSeconds : state.multiplier == 0
                if belowCap { state.multiplier += 1 }
                let seconds = min(baseEjectionSeconds * Double(state.multiplier), maximumEjectionSeconds)
                state.ejectedUntil = now + seconds
                ejectedCount += 1
                event = .ejected(host, until: now + seconds)
            }
        }
        hosts[host] = state
        return event
    }

    /// Returns hosts whose ejection time is up and applies healthy-interval forgiveness.
    public mutating func tick(now: Double) -> [Event] {
        var events: [Event] = []
        for (host, state) in hosts {
            guard let until = state.ejectedUntil, until <= now else { continue }
            hosts[host]?.ejectedUntil = nil
            hosts[host]?.returnedAt = until
            ejectedCount -= 1
            events.append(.returned(host))
        }
        while nextInterval <= now {
            let intervalEnd = nextInterval
            for (host, state) in hosts where state.multiplier > 0 && state.ejectedUntil == nil {
                if let returnedAt = state.returnedAt, intervalEnd - returnedAt >= intervalSeconds {
                    hosts[host]?.multiplier -= 1
                }
            }
            nextInterval += intervalSeconds
        }
        return events
    }

    // MARK: - Rules

    private enum Classification { case success, serverError, gatewayError, neutral }

    private static func classify(_ outcome: AttemptOutcome) -> Classification {
        switch outcome {
        case .status(let code):
            switch code {
            case 502, 503, 504: .gatewayError
            case 500...599: .serverError
            default: .success
            }
        case .connectFailure, .reset, .perTryTimeout: .gatewayError
        // The host answered: a gRPC error is the application's, not the host's health.
        case .grpcStatus: .success
        // The server declined politely (often a GOAWAY while it drains); not a failure.
        case .refusedStream: .neutral
        }
    }

    private func crossedThreshold(_ state: HostState) -> Bool {
        let by5xx = configuration.consecutive5xxErrors > 0 && state.consecutive5xx >= configuration.consecutive5xxErrors
        let byGateway = configuration.consecutiveGatewayErrors > 0 && state.consecutiveGateway >= configuration.consecutiveGatewayErrors
        return by5xx || byGateway
    }

    /// One host can always be ejected; beyond that, only while the share stays within
    /// `maxEjectionPercent`.
    private var ejectionAllowed: Bool {
        if ejectedCount == 0 { return true }
        return (ejectedCount + 1) * 100 <= configuration.maxEjectionPercent * hosts.count
    }
}
