import AmbitCore
import NIOCore

/// One finished request, as metrics, the access log (and later the trace span) see it.
///
/// Built once per request on the event loop; strings that are the same for a whole
/// tunnel (source principal, destination service) are shared, not rebuilt.
struct RequestReport {
    var method: String
    var path: String
    var authority: String
    /// `HTTP/1.1`, `HTTP/2` (access log); the `request_protocol` label is `http` or `grpc`.
    var protocolText: String
    var isGRPC: Bool
    var responseCode: Int
    /// Envoy/Istio response flags (`UH`, `UF`, `UC`, `DC`, `NR`…), `-` when none.
    var responseFlags: String
    var bytesReceived: Int
    var bytesSent: Int
    var durationNanoseconds: Int64
    var upstreamHost: String?
    var requestID: String?
    var userAgent: String?
    var source: SourcePeer
    var destinationService: String
    var destinationServiceName: String
    var destinationServiceNamespace: String
    var destinationWorkload: String?
    var destinationWorkloadNamespace: String?
    var destinationPrincipal: String?

    var durationMilliseconds: Double { Double(durationNanoseconds) / 1e6 }
}

/// Who sent the traffic of one tunnel: known once per tunnel, shared by its requests.
final class SourcePeer: Sendable {
    let principal: SpiffeID?
    /// The principal's URI, built once per tunnel rather than per request.
    let principalURI: String?
    let workload: String?
    let workloadNamespace: String?
    let address: String?
    /// `mutual_tls` for HBONE, `none` for the plain benchmark listener.
    let securityPolicy: String

    init(principal: SpiffeID?, workload: Workload?, address: String?, securityPolicy: String) {
        self.principal = principal
        self.principalURI = principal?.uri
        self.workload = workload?.metadata.name
        self.workloadNamespace = workload?.metadata.namespace ?? principal?.namespace
        self.address = address
        self.securityPolicy = securityPolicy
    }

    static let unknown = SourcePeer(principal: nil, workload: nil, address: nil, securityPolicy: "none")
}

/// Istio/Envoy response flags the I/O layer sets itself (the pure components add theirs).
enum ResponseFlag {
    static let none = "-"
    /// No healthy upstream: the backend has no endpoints.
    static let noHealthyUpstream = "UH"
    /// The upstream connection could not be opened.
    static let upstreamConnectionFailure = "UF"
    /// The upstream connection ended before the response did.
    static let upstreamConnectionTermination = "UC"
    /// The downstream went away before the response was complete.
    static let downstreamConnectionTermination = "DC"
    /// No route for the request.
    static let noRoute = "NR"
    /// A request or per-try timeout ended the request.
    static let upstreamRequestTimeout = "UT"
}
