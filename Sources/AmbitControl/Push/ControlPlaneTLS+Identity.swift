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

    /// The same, presenting whatever `serving` holds at each handshake (it renews itself).
    public static func server(serving: ServingCertificate, verifier: SpiffeVerifier) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        let certificate = serving.certificate
        return server(
            certificateChainPEM: try certificate.chainPEM(), privateKeyPEM: certificate.privateKeyPEM,
            trustRootsPEM: try verifier.trustBundle.pemString(), verifyPeer: verifier.peerCheck(expected: nil),
            customize: { $0.certificateReloader = serving })
    }

    /// The join port's security, presenting whatever `serving` holds at each handshake.
    public static func joinServer(serving: ServingCertificate) throws -> HTTP2ServerTransport.Posix.TransportSecurity {
        let certificate = serving.certificate
        return joinServer(
            certificateChainPEM: try certificate.chainPEM(), privateKeyPEM: certificate.privateKeyPEM,
            customize: { $0.certificateReloader = serving })
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
