import AmbitCore
import AmbitIdentity
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOConcurrencyHelpers
import X509

/// A data-plane process's standing with its control plane: where it is, the process's own
/// certificate (a node's or a waypoint's, see `DataPlaneKind`) and the mesh roots.
///
/// `DataPlaneBootstrap.start` makes one (from the state directory, or by joining).
/// Everything that talks to the control plane afterwards (the config push, workload
/// certificates, the renewal of the process's own certificate) authenticates with the
/// certificate held here, read at each connection, so a renewal takes effect at the next
/// connection without a restart.
public final class ControlPlaneConnection: Sendable {
    /// The mTLS port (push and CA), 15012 by default.
    public let address: HostPort
    /// The server-authenticated TLS port for `Join`, the control port + 1 by default.
    public let joinPort: Int
    public let kind: DataPlaneKind
    /// The identity this process holds.
    public let identity: SpiffeID
    /// Who the process expects at both ports.
    public let controlID: SpiffeID
    public let files: Files
    public let clock: any WallClock
    let logger: Logger
    private let state: NIOLockedValueBox<State>

    private struct State {
        var certificate: WorkloadCertificate
        var trustBundle: TrustBundle
        var watchers: [Int: AsyncStream<Void>.Continuation] = [:]
        var nextWatcher = 0
    }

    /// The identity on disk, in the state directory: `<stem>.crt` (chain, leaf first),
    /// `<stem>.key` (0600) and `root-cert.pem` (the mesh roots from the control plane),
    /// where the stem is `node` or `waypoint`; and the state the process keeps while the
    /// control plane is away (`accepted-config`, `certs/`).
    public struct Files: Sendable {
        public let directory: String
        public let certificate: String
        public let key: String
        public let trustBundle: String
        /// The last config this process accepted (`AcceptedConfigFile`).
        public let acceptedConfig: String
        /// Workload certificates it was issued (`PersistedCertificates`).
        public let workloadCertificates: String

        public init(stateDirectory: String, kind: DataPlaneKind) {
            directory = stateDirectory
            certificate = stateDirectory + "/\(kind.fileStem).crt"
            key = stateDirectory + "/\(kind.fileStem).key"
            trustBundle = stateDirectory + "/root-cert.pem"
            acceptedConfig = stateDirectory + "/accepted-config"
            workloadCertificates = stateDirectory + "/certs"
        }
    }

    init(
        address: HostPort, joinPort: Int, kind: DataPlaneKind, identity: SpiffeID, controlID: SpiffeID, files: Files,
        certificate: WorkloadCertificate, trustBundle: TrustBundle, clock: any WallClock, logger: Logger
    ) {
        self.address = address
        self.joinPort = joinPort
        self.kind = kind
        self.identity = identity
        self.controlID = controlID
        self.files = files
        self.clock = clock
        self.logger = logger
        self.state = NIOLockedValueBox(State(certificate: certificate, trustBundle: trustBundle))
    }

    public var trustDomain: String { identity.trustDomain }
    /// The process's current certificate.
    public var certificate: WorkloadCertificate { state.withLockedValue { $0.certificate } }
    /// The mesh roots as last received from the control plane.
    public var trustBundle: TrustBundle { state.withLockedValue { $0.trustBundle } }

    /// Yields after each change of the certificate or trust bundle.
    public func changes() -> AsyncStream<Void> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let id = state.withLockedValue { s -> Int in
                s.nextWatcher += 1
                s.watchers[s.nextWatcher] = continuation
                return s.nextWatcher
            }
            continuation.onTermination = { [state] _ in state.withLockedValue { _ = $0.watchers.removeValue(forKey: id) } }
        }
    }

    /// Writes the new identity to the state directory first (a crash right after must not
    /// leave the process with an identity it only held in memory), then publishes it.
    func replace(certificate: WorkloadCertificate, trustBundle: TrustBundle) throws {
        try Self.write(certificate: certificate, trustBundle: trustBundle, to: files)
        let watchers = state.withLockedValue { s in
            s.certificate = certificate
            s.trustBundle = trustBundle
            return Array(s.watchers.values)
        }
        for w in watchers { w.yield() }
    }

    static func write(certificate: WorkloadCertificate, trustBundle: TrustBundle, to files: Files) throws {
        // Roots first: a certificate on disk without the roots it chains to is useless.
        try trustBundle.write(to: files.trustBundle)
        try certificate.write(certificateFile: files.certificate, keyFile: files.key)
    }

    // MARK: - Talking to the control plane

    /// Mutual TLS as this process, for the control port: presents the current certificate
    /// and accepts only a server proving `controlID` under the mesh roots.
    public func clientSecurity() throws -> HTTP2ClientTransport.Posix.TransportSecurity {
        let (certificate, bundle) = state.withLockedValue { ($0.certificate, $0.trustBundle) }
        return ControlPlaneTLS.client(
            certificateChainPEM: try certificate.chainPEM(), privateKeyPEM: certificate.privateKeyPEM,
            trustRootsPEM: try bundle.pemString(),
            verifyPeer: SpiffeVerifier(trustBundle: bundle, clock: clock).peerCheck(expected: [controlID]))
    }

    /// A certificate for `identity` (a workload's, or the process's own), from a CSR made
    /// here: the key never leaves this process. Checked before use: it must prove
    /// `identity` and chain to the mesh roots the control plane sent with it.
    public func requestCertificate(for identity: SpiffeID) async throws(IdentityError) -> (WorkloadCertificate, TrustBundle) {
        let key: WorkloadCertificate.PrivateKey
        var request = Ambit_V1_CertificateRequest()
        do {
            let (csr, k) = try CSRBuilder.make(for: identity)
            key = k
            request.csrPem = try csr.serializeAsPEM().pemString
        } catch {
            throw IdentityError(.invalidCSR, "cannot build a CSR for \(identity): \(error)")
        }
        request.identity = identity.uri
        let response: Ambit_V1_CertificateResponse
        do {
            let security = try clientSecurity()
            response = try await Self.call(target: address, security: security) { [request] client, options in
                try await client.createCertificate(request, options: options)
            }
        } catch {
            throw Self.identityError(error, asking: "a certificate for \(identity)", at: "\(address)")
        }
        return try await Self.accept(
            chainPEM: response.certChainPem, trustBundlePEM: response.trustBundlePem, key: key, expected: identity, clock: clock)
    }

    /// One unary call on a connection of its own. Certificates are asked for rarely (once
    /// per identity per half lifetime), so a connection per call costs little and always
    /// presents the certificate in force at that moment.
    ///
    /// The call fails fast when the control plane is unreachable (no waiting for the
    /// connection: the callers retry with their own backoff) and gives up after `timeout`.
    static func call<R: Sendable>(
        target: HostPort, security: HTTP2ClientTransport.Posix.TransportSecurity, timeout: Duration = .seconds(30),
        _ body: @Sendable @escaping (Ambit_V1_Certificates.Client<HTTP2ClientTransport.Posix>, CallOptions) async throws -> R
    ) async throws -> R {
        let transport = try HTTP2ClientTransport.Posix(
            target: ControlPlaneClient.target(host: target.host, port: target.port), transportSecurity: security)
        var options = CallOptions.defaults
        options.waitForReady = false
        options.timeout = timeout
        return try await withGRPCClient(transport: transport) { [options] grpc in
            try await body(Ambit_V1_Certificates.Client(wrapping: grpc), options)
        }
    }

    /// Turns the CA's answer into a certificate for `key`, refusing one that does not prove
    /// `expected` under the roots that came with it.
    static func accept(
        chainPEM: [String], trustBundlePEM: String, key: WorkloadCertificate.PrivateKey, expected: SpiffeID, clock: any WallClock
    ) async throws(IdentityError) -> (WorkloadCertificate, TrustBundle) {
        let bundle = try TrustBundle(trustDomain: expected.trustDomain, pem: trustBundlePEM, source: "from the control plane")
        let certificate = try WorkloadCertificate(chainPEM: chainPEM.joined(separator: "\n"), privateKey: key)
        guard certificate.identity == expected else {
            throw IdentityError(.verification, "the control plane returned a certificate for \(certificate.identity), not \(expected)")
        }
        // Expiry, signatures and the SPIFFE rules, as any peer will check them.
        _ = try await SpiffeVerifier(trustBundle: bundle, clock: clock).verify(chain: certificate.chain, expected: [expected]).get()
        return (certificate, bundle)
    }

    /// A failed call as the identity layer's error, keeping the server's own sentence: a
    /// refusal is `.unauthorized`, a bad request `.invalidCSR`, anything else (unreachable,
    /// TLS refused, server failure) `.unavailable`, which the certificate manager retries.
    static func identityError(_ error: any Error, asking what: String, at address: String) -> IdentityError {
        if let error = error as? IdentityError { return error }
        guard let rpc = error as? RPCError else {
            return IdentityError(.unavailable, "cannot ask the control plane at \(address) for \(what): \(error)")
        }
        switch rpc.code {
        case .permissionDenied, .unauthenticated:
            return IdentityError(.unauthorized, rpc.message)
        case .invalidArgument:
            return IdentityError(.invalidCSR, rpc.message)
        case .unavailable:
            return IdentityError(
                .unavailable, "the control plane at \(address) is unreachable or refused the TLS handshake (\(rpc.message)); asking for \(what)")
        default:
            return IdentityError(.unavailable, "the control plane at \(address) failed \(what): \(rpc.code): \(rpc.message)")
        }
    }
}
