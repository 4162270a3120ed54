import AmbitCore
import AmbitTelemetry

/// The waypoint's request metrics, under Istio's names and labels with
/// `reporter="waypoint"` so that existing dashboards and alerts work, and its access log:
/// one line per request, with Envoy's field meanings.
///
/// Series handles are cached per event loop (`SeriesCache`), so a request costs a
/// dictionary lookup and four uncontended increments, not a label-array build and a
/// global lock per metric.
public final class WaypointTelemetry: Sendable {
    public let registry: MetricsRegistry
    /// nil when the access log is off (`--access-log off`, for benchmarks).
    let accessLog: AccessLog?
    let requests: CounterFamily
    let duration: HistogramFamily
    let requestBytes: HistogramFamily
    let responseBytes: HistogramFamily
    /// Attempts, retries, overflows, timeouts and ejections per destination.
    let upstream: UpstreamMetrics
    /// Server spans (`RequestTracer.disabled` when no OTLP endpoint is configured).
    public let tracer: RequestTracer

    static let labels = [
        "reporter", "source_workload", "source_workload_namespace", "source_principal", "destination_workload",
        "destination_workload_namespace", "destination_principal", "destination_service", "destination_service_name",
        "destination_service_namespace", "request_protocol", "response_code", "response_flags", "connection_security_policy",
    ]

    public init(registry: MetricsRegistry = MetricsRegistry(), accessLog: AccessLog?, tracer: RequestTracer = .disabled) {
        self.registry = registry
        self.accessLog = accessLog
        self.tracer = tracer
        upstream = UpstreamMetrics(registry: registry)
        requests = registry.counter("istio_requests_total", help: "Requests handled by the waypoint", labels: Self.labels)
        duration = registry.histogram(
            "istio_request_duration_milliseconds", help: "Request durations through the waypoint", labels: Self.labels)
        requestBytes = registry.histogram(
            "istio_request_bytes", help: "Request body sizes", labels: Self.labels, buckets: HistogramBuckets.istioBytes)
        responseBytes = registry.histogram(
            "istio_response_bytes", help: "Response body sizes", labels: Self.labels, buckets: HistogramBuckets.istioBytes)
    }

    /// Counts the request and writes its access-log line. Runs on the request's event loop.
    func record(_ report: RequestReport, cache: SeriesCache) {
        let series = cache.series(for: report, telemetry: self)
        series.requests.increment()
        series.duration.observe(report.durationMilliseconds)
        series.requestBytes.observe(Double(report.bytesReceived))
        series.responseBytes.observe(Double(report.bytesSent))
        guard let accessLog else { return }
        var record = AccessLogRecord()
        record.fields.reserveCapacity(18)
        record.append("reporter", "waypoint")
        record.append("method", report.method)
        record.append("path", report.path)
        record.append("authority", report.authority)
        record.append("protocol", report.protocolText)
        record.append("response_code", .integer(Int64(report.responseCode)))
        record.append("response_flags", report.responseFlags)
        record.append("bytes_received", .integer(Int64(report.bytesReceived)))
        record.append("bytes_sent", .integer(Int64(report.bytesSent)))
        record.append("duration_ms", .double((report.durationMilliseconds * 1000).rounded() / 1000))
        record.append("upstream_host", report.upstreamHost)
        record.append("x_request_id", report.requestID)
        record.append("user_agent", report.userAgent)
        record.append("downstream_peer", report.source.address)
        record.append("source_principal", report.source.principalURI)
        record.append("destination_service", report.destinationService)
        record.append("destination_workload", report.destinationWorkload)
        accessLog.log(record)
    }
}

/// The metric handles of one label combination.
final class SeriesBundle {
    let requests: Counter
    let duration: Histogram
    let requestBytes: Histogram
    let responseBytes: Histogram

    init(values: [String], telemetry: WaypointTelemetry) {
        requests = telemetry.requests.labels(values)
        duration = telemetry.duration.labels(values)
        requestBytes = telemetry.requestBytes.labels(values)
        responseBytes = telemetry.responseBytes.labels(values)
    }
}

/// Per event loop: label combinations already seen, so the hot path skips building label
/// arrays. Bounded: past `capacity` distinct combinations it stops caching (the registry
/// still holds every series), which keeps a client cycling through random paths or codes
/// from growing it without end.
final class SeriesCache {
    struct Key: Hashable {
        let sourcePrincipal: String?
        let sourceWorkload: String?
        let destinationService: String
        let destinationWorkload: String?
        let code: Int
        let flags: String
        let grpc: Bool
    }

    private var entries: [Key: SeriesBundle] = [:]
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    func series(for r: RequestReport, telemetry: WaypointTelemetry) -> SeriesBundle {
        let key = Key(
            sourcePrincipal: r.source.principalURI, sourceWorkload: r.source.workload, destinationService: r.destinationService, destinationWorkload: r.destinationWorkload,
            code: r.responseCode, flags: r.responseFlags, grpc: r.isGRPC)
        if let hit = entries[key] { return hit }
        let values = [
            "waypoint", r.source.workload ?? "unknown", r.source.workloadNamespace ?? "unknown",
            r.source.principalURI ?? "unknown", r.destinationWorkload ?? "unknown", r.destinationWorkloadNamespace ?? "unknown",
            r.destinationPrincipal ?? "unknown", r.destinationService, r.destinationServiceName, r.destinationServiceNamespace,
            r.isGRPC ? "grpc" : "http", String(r.responseCode), r.responseFlags, r.source.securityPolicy,
        ]
        let bundle = SeriesBundle(values: values, telemetry: telemetry)
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = bundle
        return bundle
    }
}

/// The access-log line of a stream carried as TCP (no requests to count).
enum AccessLogRecordBuilder {
    static func tcp(
        session: DownstreamSession, backend: Backend, endpoint: UpstreamEndpoint, durationNanoseconds: Int64, received: Int, sent: Int,
        flags: String
    ) -> AccessLogRecord {
        var record = AccessLogRecord()
        record.append("reporter", "waypoint")
        record.append("protocol", "TCP")
        record.append("response_flags", flags)
        record.append("bytes_received", .integer(Int64(received)))
        record.append("bytes_sent", .integer(Int64(sent)))
        record.append("duration_ms", .double((Double(durationNanoseconds) / 1e3).rounded() / 1000))
        record.append("upstream_host", endpoint.hostText)
        record.append("downstream_peer", session.source.address)
        record.append("source_principal", session.source.principalURI)
        record.append("destination_service", backend.hostname)
        record.append("destination_workload", endpoint.workloadName)
        return record
    }
}
