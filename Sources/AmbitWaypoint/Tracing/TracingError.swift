/// Why tracing could not be set up. A struct around a private code, so new cases do not
/// break callers; the description says what to change.
public struct TracingError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case invalidEndpoint(String)
        case invalidSetting(String, String)
        case exporterFailed(String)
    }

    private let code: Code

    static func invalidEndpoint(_ endpoint: String) -> Self { Self(code: .invalidEndpoint(endpoint)) }
    static func invalidSetting(_ name: String, _ reason: String) -> Self { Self(code: .invalidSetting(name, reason)) }
    static func exporterFailed(_ reason: String) -> Self { Self(code: .exporterFailed(reason)) }

    public var description: String {
        switch code {
        case .invalidEndpoint(let endpoint):
            "tracing endpoint '\(endpoint)' is not an OTLP/gRPC URL; write it as http://HOST:PORT (plaintext) or https://HOST:PORT (TLS), e.g. http://otel-collector:4317"
        case .invalidSetting(let name, let reason):
            "tracing setting \(name) \(reason)"
        case .exporterFailed(let reason):
            "cannot create the OTLP/gRPC span exporter: \(reason); check the tracing endpoint and any OTEL_* environment variables"
        }
    }
}
