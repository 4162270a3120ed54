import AmbitTelemetry

/// Counters of what the waypoint does toward its upstreams, per destination service, in
/// the spirit of Envoy's cluster stats (`upstream_rq_total`, `upstream_rq_retry`,
/// `upstream_rq_pending_overflow`, `upstream_rq_timeout`, `outlier_detection.ejections_total`).
/// Istio's `istio_requests_total` counts what the client saw; these count the attempts
/// behind it, so a dashboard can show how many retries hid a failing backend.
///
/// | name | meaning |
/// |---|---|
/// | `ambit_waypoint_upstream_rq_total` | attempts sent upstream (first tries and retries) |
/// | `ambit_waypoint_upstream_rq_retry_total` | retries (attempts after the first) |
/// | `ambit_waypoint_upstream_rq_retry_limit_exceeded_total` | requests that ran out of retries (URX) |
/// | `ambit_waypoint_upstream_rq_overflow_total` | requests refused by a connection-pool limit (UO) |
/// | `ambit_waypoint_upstream_rq_timeout_total` | attempts ended by a timeout (UT, or a retried per-try timeout) |
/// | `ambit_waypoint_outlier_ejections_total` | hosts ejected by outlier detection |
///
/// All carry one label, `destination_service` (the service's FQDN, as in Istio's metrics).
public final class UpstreamMetrics: Sendable {
    let attempts: CounterFamily
    let retries: CounterFamily
    let retryLimitExceeded: CounterFamily
    let overflows: CounterFamily
    let timeouts: CounterFamily
    let ejections: CounterFamily

    init(registry: MetricsRegistry) {
        let labels = ["destination_service"]
        attempts = registry.counter("ambit_waypoint_upstream_rq_total", help: "Attempts sent to upstream endpoints, retries included", labels: labels)
        retries = registry.counter("ambit_waypoint_upstream_rq_retry_total", help: "Retries sent to upstream endpoints", labels: labels)
        retryLimitExceeded = registry.counter(
            "ambit_waypoint_upstream_rq_retry_limit_exceeded_total", help: "Requests answered after their last allowed retry failed (URX)",
            labels: labels)
        overflows = registry.counter(
            "ambit_waypoint_upstream_rq_overflow_total", help: "Requests refused by a connection-pool limit (503 UO)", labels: labels)
        timeouts = registry.counter("ambit_waypoint_upstream_rq_timeout_total", help: "Attempts ended by a request or per-try timeout", labels: labels)
        ejections = registry.counter("ambit_waypoint_outlier_ejections_total", help: "Hosts ejected by outlier detection", labels: labels)
    }

    /// The handles of one destination, looked up once per config rather than per request.
    struct Destination {
        let attempts: Counter
        let retries: Counter
        let retryLimitExceeded: Counter
        let overflows: Counter
        let timeouts: Counter
        let ejections: Counter
    }

    func destination(_ service: String) -> Destination {
        let labels = [service]
        return Destination(
            attempts: attempts.labels(labels), retries: retries.labels(labels), retryLimitExceeded: retryLimitExceeded.labels(labels),
            overflows: overflows.labels(labels), timeouts: timeouts.labels(labels), ejections: ejections.labels(labels))
    }
}
