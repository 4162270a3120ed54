/// Where and how the waypoint exports its spans: an OTLP/gRPC collector (the OpenTelemetry
/// Collector, Jaeger, Tempo all speak it on port 4317).
public struct TraceExportConfiguration: Hashable, Sendable {
    /// `http://host:port` for plaintext gRPC, `https://host:port` for TLS.
    public var endpoint: String
    /// `service.name` on every span. Istio names a waypoint's spans `<name>.<namespace>`.
    public var serviceName: String
    /// Extra resource attributes (`service.namespace`, `k8s.pod.name`, ...).
    public var resourceAttributes: [String: String]
    /// Spans are sent in batches at most this far apart (OpenTelemetry's default is 5 s).
    public var scheduleDelay: Duration
    /// Ended spans waiting for export; more are dropped (OpenTelemetry's default, 2048).
    public var maxQueueSize: Int
    /// Spans per OTLP request.
    public var maxExportBatchSize: Int
    /// How long one export may take before the batch is given up.
    public var exportTimeout: Duration

    public init(
        endpoint: String, serviceName: String, resourceAttributes: [String: String] = [:],
        scheduleDelay: Duration = .seconds(5), maxQueueSize: Int = 2048, maxExportBatchSize: Int = 512,
        exportTimeout: Duration = .seconds(10)
    ) {
        self.endpoint = endpoint
        self.serviceName = serviceName
        self.resourceAttributes = resourceAttributes
        self.scheduleDelay = scheduleDelay
        self.maxQueueSize = maxQueueSize
        self.maxExportBatchSize = maxExportBatchSize
        self.exportTimeout = exportTimeout
    }

    /// The configuration of waypoint `name` in `namespace`.
    public static func waypoint(name: String, namespace: String, endpoint: String) -> Self {
        Self(
            endpoint: endpoint,
            serviceName: "\(name).\(namespace)",
            resourceAttributes: ["service.namespace": namespace, "service.instance.id": name]
        )
    }

    /// Checks what swift-otel would otherwise reject later with a less helpful message.
    public func validate() throws(TracingError) {
        let scheme = endpoint.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        guard scheme == "http" || scheme == "https", endpoint.contains("://") else {
            throw TracingError.invalidEndpoint(endpoint)
        }
        guard !serviceName.isEmpty else { throw TracingError.invalidSetting("serviceName", "must not be empty") }
        guard maxQueueSize > 0 else { throw TracingError.invalidSetting("maxQueueSize", "must be at least 1") }
        guard (1...maxQueueSize).contains(maxExportBatchSize) else {
            throw TracingError.invalidSetting("maxExportBatchSize", "must be between 1 and maxQueueSize (\(maxQueueSize))")
        }
        guard scheduleDelay > .zero, exportTimeout > .zero else {
            throw TracingError.invalidSetting("scheduleDelay/exportTimeout", "must be positive")
        }
    }
}
