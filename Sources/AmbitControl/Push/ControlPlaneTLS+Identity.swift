import AmbitAPI
import AmbitCore
import AmbitIdentity
import GRPCNIOTransportHTTP2
import X509

extension ControlPlaneTLS {
    /// The control plane's server security: its own certificate, any verified mesh
    /// identity as client (the push and the CA decide what each may do).
    public static func server(certificate: WorkloadCertificate, verifier: SpiffeVerifier) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        server(
            certificateChainPEM: try certificate.chainPEM(), privateKeyPEM: certificate.privateKeyPEM,
            trustRootsPEM: try verifier.trustBundle.pemString(), verifyPeer: verifier.peerCheck(expected: nil))
    }

    /// A node's client security: its own certificate, and the control plane must prove one
    /// of `expectedServer`.
    public static func client(
        certificate: WorkloadCertificate, verifier: SpiffeVerifier, expectedServer: Set<SpiffeID>
    ) throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        client(
            certificateChainPEM: try certificate.chainPEM(), privateKeyPEM: certificate.privateKeyPEM,
            trustRootsPEM: try verifier.trustBundle.pemString(), verifyPeer: verifier.peerCheck(expected: expectedServer))
    }
}
