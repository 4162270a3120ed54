import AmbitCore
import AmbitTelemetry
import NIOCore

/// What one event loop keeps per destination (a backend service port, on the mesh path or
/// the plain listener's): its DestinationRule policy resolved once, the load balancer with
/// its in-flight counts, the connection-pool limits, the outlier detector and the retry
/// budget, plus the metric handles of that destination.
///
/// One per destination per loop, as Envoy keeps its per-worker cluster state: the hot
/// path mutates plain values with no lock, and each loop enforces the full limits (with
/// the default single worker, that is exactly the configured limit).
///
/// Rebuilt only when the loop's config changes; the new state carries the old one's
/// balancer counts, breaker, outlier history and budget over when the policy is the same,
/// so a config push does not forgive a failing host. Requests in flight keep a reference
/// to the state they started on and release into it.
///
/// Subsets: Gateway API backendRefs cannot name a DestinationRule subset, so the policy is
/// the host-level one (top-level and port-level `trafficPolicy`); subset policies apply
/// where a route kind that names subsets is added.
final class DestinationState {
    struct Key: Hashable {
        let backend: BackendKey
        let plain: Bool
    }

    /// The config this state was built from (rebuilt when the loop's differs).
    let config: WaypointConfig
    let backend: Backend
    let policy: DestinationPolicy
    /// The dialable endpoint of each balancer slot (`lease.index`).
    let endpoints: [UpstreamEndpoint]
    var balancer: EndpointBalancer
    var breaker: CircuitBreaker
    var outlier: OutlierDetector?
    var budget: RetryBudget
    /// When the outlier detector next wants `tick` (a host's return or the next interval).
    var outlierTimer: Scheduled<Void>?
    /// The detector's `nextTick`, kept so the hot path does not recompute it.
    private var outlierDue = Double.infinity
    let metrics: UpstreamMetrics.Destination

    init(config: WaypointConfig, backend: Backend, plain: Bool, previous: DestinationState?, metrics: UpstreamMetrics, now: Double) {
        self.config = config
        self.backend = backend
        let rule = config.snapshot.destinationRule(for: backend.service)
        // Always resolvable without a subset; the fallback keeps the defaults if it ever is not.
        let policy = DestinationPolicy(rule: rule, port: backend.port.port) ?? DestinationPolicy(rule: nil, port: backend.port.port)!
        self.policy = policy
        let upstream = plain ? backend.plainEndpoints : backend.endpoints
        endpoints = upstream
        let members = upstream.map(Self.balancerEndpoint)
        let reused = previous.flatMap { $0.policy == policy ? $0 : nil }
        if var balancer = reused?.balancer {
            balancer.update(endpoints: members)
            self.balancer = balancer
        } else {
            // PASSTHROUGH means "dial the original destination", which a waypoint never
            // does: it balances over the endpoints in turn instead.
            balancer =
                EndpointBalancer(endpoints: members, policy: policy)
                ?? EndpointBalancer(endpoints: members, algorithm: .roundRobin, panicThresholdPercent: policy.panicThresholdPercent)
        }
        breaker = reused?.breaker ?? CircuitBreaker(policy.connectionPool)
        budget = reused?.budget ?? RetryBudget()
        if let detection = policy.outlierDetection {
            if var detector = reused?.outlier {
                detector.updateHosts(members.map(\.address))
                outlier = detector
            } else {
                outlier = OutlierDetector(detection, hosts: members.map(\.address), now: now)
            }
            balancer.update(ejected: outlier?.ejectedHosts ?? [])
            outlierDue = outlier?.nextTick ?? .infinity
        }
        reused?.outlierTimer?.cancel()
        self.metrics = metrics.destination(backend.hostname)
    }

    static func balancerEndpoint(_ endpoint: UpstreamEndpoint) -> Endpoint {
        Endpoint(
            address: HostPort(host: endpoint.address.ipAddress ?? endpoint.hostText, port: endpoint.address.port ?? 0),
            identity: endpoint.identity)
    }

    /// The balancer's choice and where to dial it; nil when the destination has no endpoint.
    func pick(hash: UInt64?) -> (EndpointBalancer.Lease, UpstreamEndpoint)? {
        guard let lease = balancer.pick(hash: hash) else { return nil }
        return (lease, endpoints[lease.index])
    }

    // MARK: - Outlier detection

    /// Accounts one attempt's outcome; an ejection leaves the balancer at once, and the
    /// timer that returns hosts is (re)armed.
    func record(_ outcome: AttemptOutcome, lease: EndpointBalancer.Lease, on loop: WaypointLoop) {
        guard outlier != nil else { return }
        let now = loop.seconds
        // Healthy intervals that passed while no timer ran still lower multipliers before
        // this outcome is judged.
        if now >= outlierDue { tick(now: now) }
        if case .ejected = outlier!.record(outcome, for: lease.endpoint.address, now: now) {
            metrics.ejections.increment()
            balancer.update(ejected: outlier!.ejectedHosts)
            outlierDue = outlier!.nextTick
            armOutlierTimer(on: loop)
        }
    }

    private func tick(now: Double) {
        _ = outlier!.tick(now: now)
        balancer.update(ejected: outlier!.ejectedHosts)
        outlierDue = outlier!.nextTick
    }

    /// Ejections return by time: the detector says when it next needs a tick. Only armed
    /// while a host is out, so an idle healthy destination costs no timer.
    func armOutlierTimer(on loop: WaypointLoop) {
        guard let detector = outlier, detector.ejectedCount > 0 else { return }
        outlierTimer?.cancel()
        let at = NIODeadline.uptimeNanoseconds(UInt64(max(0, detector.nextTick) * 1e9))
        outlierTimer = loop.loop.scheduleTask(deadline: at) { [weak self, unowned loop] in
            guard let self else { return }
            self.outlierTimer = nil
            guard self.outlier != nil else { return }
            self.tick(now: loop.seconds)
            self.armOutlierTimer(on: loop)
        }
    }
}
