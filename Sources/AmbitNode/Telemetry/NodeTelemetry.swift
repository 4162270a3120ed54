import AmbitCore
import AmbitTelemetry

/// One finished (or refused) connection, as metrics and the access log see it.
struct ConnectionReport: Sendable {
    /// `source` for the outbound side, `destination` for the inbound side (Istio's
    /// `reporter` label).
    var reporter: String
    /// `hbone`, `passthrough` or `plaintext`.
    var mode: String
    var sourceWorkload: Workload?
    var sourcePrincipal: SpiffeID?
    var sourceAddress: String?
    var destinationWorkload: Workload?
    var destinationPrincipal: SpiffeID?
    var destinationService: String?
    var destinationAddress: String
    var bytesFromSource = 0
    var bytesToSource = 0
    var durationSeconds = 0.0
    /// Why it ended badly, or nil for a clean close; Istio's L4 response flags where one
    /// fits (`AuthorizationPolicyDenied`, `ConnectionFailure`, `TlsFailure`…).
    var responseFlag: String?
    var reason: String?

    var connectionSecurityPolicy: String { mode == "hbone" ? "mutual_tls" : "none" }
}

/// The node's metrics, under Istio's names and labels so that existing dashboards work,
/// and its access log: one line per connection.
final class NodeTelemetry: Sendable {
    let registry: MetricsRegistry
    let accessLog: AccessLog
    private let opened: CounterFamily
    private let closed: CounterFamily
    private let sent: CounterFamily
    private let received: CounterFamily
    let enrolledPods: GaugeFamily
    let enrolmentFailures: CounterFamily

    static let labels = [
        "reporter", "source_workload", "source_workload_namespace", "source_principal", "destination_workload",
        "destination_workload_namespace", "destination_principal", "destination_service", "request_protocol",
        "response_flags", "connection_security_policy",
    ]

    init(registry: MetricsRegistry = MetricsRegistry(), accessLog: AccessLog) {
        self.registry = registry
        self.accessLog = accessLog
        opened = registry.counter("istio_tcp_connections_opened_total", help: "TCP connections opened", labels: Self.labels)
        closed = registry.counter("istio_tcp_connections_closed_total", help: "TCP connections closed", labels: Self.labels)
        sent = registry.counter(
            "istio_tcp_sent_bytes_total", help: "Bytes sent back to the source of TCP connections", labels: Self.labels)
        received = registry.counter(
            "istio_tcp_received_bytes_total", help: "Bytes received from the source of TCP connections", labels: Self.labels)
        enrolledPods = registry.gauge("ambit_node_enrolled_pods", help: "Pods enrolled in the mesh on this node")
        enrolmentFailures = registry.counter(
            "ambit_node_enrolment_failures_total", help: "Pod enrolments that failed", labels: ["workload_namespace", "workload"])
    }

    private func labelValues(_ r: ConnectionReport) -> [String] {
        [
            r.reporter,
            r.sourceWorkload?.metadata.name ?? "unknown", r.sourceWorkload?.metadata.namespace ?? "unknown",
            r.sourcePrincipal.map { $0.uri } ?? "unknown",
            r.destinationWorkload?.metadata.name ?? "unknown", r.destinationWorkload?.metadata.namespace ?? "unknown",
            r.destinationPrincipal.map { $0.uri } ?? "unknown",
            r.destinationService ?? "unknown", "tcp", r.responseFlag ?? "-", r.connectionSecurityPolicy,
        ]
    }

    func connectionOpened(_ r: ConnectionReport) {
        opened.labels(labelValues(r)).increment()
    }

    /// Counts the close and bytes, and writes the access-log line.
    func connectionClosed(_ r: ConnectionReport) {
        let values = labelValues(r)
        closed.labels(values).increment()
        if r.bytesToSource > 0 { sent.labels(values).increment(by: r.bytesToSource) }
        if r.bytesFromSource > 0 { received.labels(values).increment(by: r.bytesFromSource) }
        var record = AccessLogRecord()
        record.append("reporter", .string(r.reporter))
        record.append("mode", .string(r.mode))
        record.append("src.addr", r.sourceAddress)
        record.append("src.workload", r.sourceWorkload?.metadata.name)
        record.append("src.namespace", r.sourceWorkload?.metadata.namespace)
        record.append("src.identity", r.sourcePrincipal?.uri)
        record.append("dst.addr", r.destinationAddress)
        record.append("dst.service", r.destinationService)
        record.append("dst.workload", r.destinationWorkload?.metadata.name)
        record.append("dst.namespace", r.destinationWorkload?.metadata.namespace)
        record.append("dst.identity", r.destinationPrincipal?.uri)
        record.append("bytes_sent", .integer(Int64(r.bytesToSource)))
        record.append("bytes_recv", .integer(Int64(r.bytesFromSource)))
        record.append("duration_ms", .integer(Int64((r.durationSeconds * 1000).rounded())))
        record.append("response_flags", r.responseFlag)
        record.append("reason", r.reason)
        accessLog.log(record)
    }
}
