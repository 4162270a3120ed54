import AmbitCore
import GRPCCore
import GRPCNIOTransportHTTP2

/// The CLI's side of the admin API: one call per command, over mTLS with the
/// administrator's identity.
///
/// Failures come back as `AdminClientError` with a sentence to print: the server's own
/// message for a refused apply (file, document, field, reason), or what to check when the
/// control plane cannot be reached.
public struct AdminClient: Sendable {
    public let server: HostPort
    private let security: HTTP2ClientTransport.Posix.TransportSecurity

    public init(server: HostPort, security: HTTP2ClientTransport.Posix.TransportSecurity) {
        self.server = server
        self.security = security
    }

    public func apply(documents: String, file: String, dryRun: Bool = false) async throws -> [Ambit_V1_ResourceResult] {
        var request = Ambit_V1_ApplyRequest()
        request.documents = documents
        request.fileName = file
        request.dryRun = dryRun
        let r = request
        return try await call { try await $0.apply(r) }.results
    }

    public func get(kind: String, namespace: String, name: String) async throws -> [String] {
        var request = Ambit_V1_GetRequest()
        request.kind = kind
        request.namespace = namespace
        request.name = name
        let r = request
        return try await call { try await $0.get(r) }.documents
    }

    public func delete(kind: String, namespace: String, name: String) async throws -> [Ambit_V1_ResourceResult] {
        var request = Ambit_V1_DeleteRequest()
        request.kind = kind
        request.namespace = namespace
        request.name = name
        let r = request
        return try await call { try await $0.delete(r) }.results
    }

    public func label(kind: String, namespace: String, name: String, set: [String: String], remove: [String]) async throws -> Ambit_V1_ResourceResult {
        var request = Ambit_V1_LabelRequest()
        request.kind = kind
        request.namespace = namespace
        request.name = name
        request.set = set
        request.remove = remove
        let r = request
        return try await call { try await $0.label(r) }.result
    }

    public func status() async throws -> Ambit_V1_StatusResponse {
        try await call { try await $0.status(Ambit_V1_StatusRequest()) }
    }

    public func proxyConfig(name: String) async throws -> Ambit_V1_ProxyConfigResponse {
        var r = Ambit_V1_ProxyConfigRequest()
        r.name = name
        let request = r
        return try await call { try await $0.proxyConfig(request) }
    }

    private func call<R: Sendable>(_ body: @Sendable (Ambit_V1_Admin.Client<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
        do {
            let transport = try HTTP2ClientTransport.Posix(
                target: GRPCTarget.make(host: server.host, port: server.port), transportSecurity: security)
            return try await withGRPCClient(transport: transport) { grpc in
                try await body(Ambit_V1_Admin.Client(wrapping: grpc))
            }
        } catch let error as RPCError {
            switch error.code {
            case .unavailable, .deadlineExceeded:
                throw AdminClientError(
                    "cannot reach the control plane at \(server): \(error.message); is `ambit control` running there, and is the address in your ambitconfig right?")
            default:
                throw AdminClientError(error.message)
            }
        }
    }
}

public struct AdminClientError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
