import AmbitCore
import AmbitIdentity

/// Workload certificates from the control plane's CA: `Certificates.CreateCertificate` on
/// the control port, authenticated as this node (mutual TLS with the node certificate).
///
/// The CSR is made here and only it travels; the key never leaves the node. The CA signs
/// only identities of workloads scheduled on this node; its refusal comes back as
/// `IdentityError(.unauthorized)` carrying the CA's own message, an unreachable control
/// plane as `.unavailable` (the certificate manager retries, and keeps serving a
/// certificate that is still valid meanwhile).
public struct RemoteCAProvider: CertificateProvider {
    public let controlPlane: NodeControlPlane

    public init(controlPlane: NodeControlPlane) {
        self.controlPlane = controlPlane
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        try await controlPlane.requestCertificate(for: identity).0
    }
}
