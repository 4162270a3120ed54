// Everything `ambit-testapp serve` is told on its command line, as one typed value, so
// tests start the same server in-process with the same settings.

public struct ServeConfiguration: Sendable {
    /// HTTP/1.1 and h2c (prior knowledge) on one port; port 0 picks a free one.
    public var listen: HostPort
    public var name: String
    public var version: String
    public var faults: FaultSettings
    /// The gRPC Echo service (plaintext HTTP/2), if wanted.
    public var grpcListen: HostPort?
    /// URLs called (GET, in order) for every request; their answers are embedded in the
    /// response. This makes an instance a "front" service calling "back" services.
    public var calls: [HTTPURL]
    /// When set, ordinary answers carry this many filler bytes instead of the JSON report
    /// (benchmarks with a fixed payload). The x-ambit-* headers still say who answered.
    public var bodyBytes: Int?
    /// Request bodies larger than this get 413 (they are held in memory to echo them).
    public var maxRequestBodyBytes: Int

    public init(
        listen: HostPort, name: String = "testapp", version: String = "v1", faults: FaultSettings = FaultSettings(),
        grpcListen: HostPort? = nil, calls: [HTTPURL] = [], bodyBytes: Int? = nil, maxRequestBodyBytes: Int = 64 << 20
    ) {
        self.listen = listen
        self.name = name
        self.version = version
        self.faults = faults
        self.grpcListen = grpcListen
        self.calls = calls
        self.bodyBytes = bodyBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }
}
