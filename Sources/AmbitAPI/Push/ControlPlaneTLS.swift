import GRPCNIOTransportHTTP2
import NIOCore
import NIOSSL

/// Mutual TLS for the control plane's gRPC (port 15012), with the peer checked by the
/// caller's own verifier (the mesh's `SpiffeVerifier`) instead of hostname rules.
///
/// grpc-swift-nio-transport (2.3+ client, 2.2+ server) accepts a custom verification
/// callback in its TLS configuration; it replaces BoringSSL's chain verification, as in
/// `TLSContextFactory` for HBONE. The trust roots are still given explicitly, so nothing
/// ever falls back to the system store. The server transport then exposes the verified
/// chain to handlers (`HTTP2ServerTransport.Posix.Context.peerCertificate`), which is how
/// the push learns the node's SPIFFE ID.
///
/// `verifyPeer` gets the peer's chain (DER, leaf first) and throws to refuse it. With
/// AmbitIdentity's verifier:
///
///     verifyPeer: { der in
///         let chain = try der.map { try Certificate(derEncoded: $0) }
///         _ = try await verifier.verify(chain: chain, expected: [controlPlaneID]).get()
///     }
public enum ControlPlaneTLS {
    public typealias PeerCheck = @Sendable (_ chainDER: [[UInt8]]) async throws -> Void

    /// The client side: presents `certificateChainPEM` (the node's own identity).
    public static func client(
        certificateChainPEM: String, privateKeyPEM: String, trustRootsPEM: String, verifyPeer: @escaping PeerCheck
    ) -> HTTP2ClientTransport.Posix.TransportSecurity {
        .mTLS(
            certificateChain: [.bytes(Array(certificateChainPEM.utf8), format: .pem)],
            privateKey: .bytes(Array(privateKeyPEM.utf8), format: .pem)
        ) { config in
            config.trustRoots = .certificates([.bytes(Array(trustRootsPEM.utf8), format: .pem)])
            // Not `.none`: with verification off BoringSSL never calls the callback.
            config.serverCertificateVerification = .noHostnameVerification
            config.customVerificationCallback = callback(verifyPeer)
        }
    }

    /// What a server may change last, e.g. set a `certificateReloader` so that a renewed
    /// certificate is presented without a restart.
    public typealias ServerCustomization = @Sendable (inout HTTP2ServerTransport.Posix.TransportSecurity.TLS) -> Void

    /// The server side: presents the control plane's certificate and requires a client
    /// certificate that `verifyPeer` accepts.
    public static func server(
        certificateChainPEM: String, privateKeyPEM: String, trustRootsPEM: String, verifyPeer: @escaping PeerCheck,
        customize: @escaping ServerCustomization = { _ in }
    ) -> HTTP2ServerTransport.Posix.TransportSecurity {
        .mTLS(
            certificateChain: [.bytes(Array(certificateChainPEM.utf8), format: .pem)],
            privateKey: .bytes(Array(privateKeyPEM.utf8), format: .pem)
        ) { config in
            config.trustRoots = .certificates([.bytes(Array(trustRootsPEM.utf8), format: .pem)])
            config.clientCertificateVerification = .noHostnameVerification
            config.requireALPN = true
            config.customVerificationCallback = callback(verifyPeer)
            customize(&config)
        }
    }

    /// The join port's client side (15013): server-authenticated TLS only, since a joining
    /// node has no certificate yet. The server must still prove the control plane's
    /// identity (`verifyPeer`) against the roots the operator handed the node, so a token is
    /// never sent to an impostor.
    public static func joinClient(trustRootsPEM: String, verifyPeer: @escaping PeerCheck) -> HTTP2ClientTransport.Posix.TransportSecurity {
        .tls { config in
            config.trustRoots = .certificates([.bytes(Array(trustRootsPEM.utf8), format: .pem)])
            config.serverCertificateVerification = .noHostnameVerification
            config.customVerificationCallback = callback(verifyPeer)
        }
    }

    /// The join port's server side (15013): presents the control plane's certificate and
    /// asks for none (the join token is the credential there).
    public static func joinServer(
        certificateChainPEM: String, privateKeyPEM: String, customize: @escaping ServerCustomization = { _ in }
    ) -> HTTP2ServerTransport.Posix.TransportSecurity {
        .tls(
            certificateChain: [.bytes(Array(certificateChainPEM.utf8), format: .pem)],
            privateKey: .bytes(Array(privateKeyPEM.utf8), format: .pem)
        ) { config in
            config.requireALPN = true
            customize(&config)
        }
    }

    static func callback(
        _ verifyPeer: @escaping PeerCheck
    ) -> @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResultWithMetadata>) -> Void {
        { certificates, promise in
            let der: [[UInt8]]
            do { der = try certificates.map { try $0.toDERBytes() } } catch {
                promise.succeed(.failed)
                return
            }
            promise.completeWithTask {
                do {
                    try await verifyPeer(der)
                    // Handing the chain back makes it available to the server's handlers.
                    return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(certificates)))
                } catch {
                    return .failed
                }
            }
        }
    }
}
