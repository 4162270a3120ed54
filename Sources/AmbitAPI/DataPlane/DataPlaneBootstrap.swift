import AmbitCore
import AmbitIdentity
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Logging

/// How a data-plane process (a node daemon or a waypoint) gets its own identity from the
/// control plane, once, and keeps it.
///
/// At start: if the state directory holds `<stem>.crt`, `<stem>.key` and `root-cert.pem`,
/// the certificate is this process's, chains to those roots and has more than 10 % of its
/// lifetime left, they are reused (a restart needs no token, and no control plane). A
/// certificate that is still valid but nearly spent is renewed over mutual TLS. Otherwise
/// the process joins: a fresh P-256 key and a CSR for its identity, sent with the one-time
/// token over server-authenticated TLS to the join port, checking that the server is the
/// control plane under the roots the operator gave (`--trust-bundle`). The answer is
/// checked and written (key 0600).
///
/// Afterwards `ControlPlaneConnection.maintainCertificate` renews at half life.
public enum DataPlaneBootstrap {
    public struct Configuration: Sendable {
        public var kind: DataPlaneKind
        public var trustDomain: String
        /// The control plane's mTLS port (push, CA).
        public var control: HostPort
        /// Where `Join` is served: the control port + 1 unless set.
        public var joinPort: Int
        public var stateDirectory: String
        /// The one-time token from `ambit control token create`; needed only when the
        /// process has no usable identity yet.
        public var joinToken: String?
        /// The mesh root(s) the operator trusts the control plane under; needed to join.
        public var trustBundleFile: String?

        public init(kind: DataPlaneKind, trustDomain: String, control: HostPort, stateDirectory: String) {
            self.kind = kind
            self.trustDomain = trustDomain
            self.control = control
            self.joinPort = control.port + 1
            self.stateDirectory = stateDirectory
        }
    }

    /// A reused certificate must have more than this share of its lifetime left; less, and
    /// the process would start only to renew at once, or fail soon if the control plane is away.
    static let minimumRemainingFraction = 0.1

    /// The process's identity: reused from the state directory, renewed, or obtained by joining.
    public static func start(
        _ configuration: Configuration, clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "ambit.bootstrap")
    ) async throws(DataPlaneControlError) -> ControlPlaneConnection {
        let kind = configuration.kind
        let identities: (own: SpiffeID, control: SpiffeID)
        do {
            identities = (try kind.identity(trustDomain: configuration.trustDomain), try DataPlaneKind.controlIdentity(trustDomain: configuration.trustDomain))
        } catch {
            throw DataPlaneControlError("\(kind) in trust domain \(configuration.trustDomain) makes no SPIFFE ID: \(error.message)")
        }
        try StateFiles.createDirectory(configuration.stateDirectory)
        let files = ControlPlaneConnection.Files(stateDirectory: configuration.stateDirectory, kind: kind)
        let make = { (certificate: WorkloadCertificate, bundle: TrustBundle) in
            ControlPlaneConnection(
                address: configuration.control, joinPort: configuration.joinPort, kind: kind, identity: identities.own,
                controlID: identities.control, files: files, certificate: certificate, trustBundle: bundle, clock: clock, logger: logger)
        }

        let stored = await loadStored(files: files, expected: identities.own, clock: clock)
        switch stored {
        case .usable(let certificate, let bundle):
            if configuration.joinToken != nil {
                logger.info("this \(kind) already has an identity; the join token is not used", metadata: ["identity": "\(identities.own)"])
            }
            logger.info("reusing the \(kind) certificate", metadata: ["identity": "\(identities.own)", "serial": "\(certificate.serial)"])
            return make(certificate, bundle)
        case .nearlySpent(let certificate, let bundle):
            let connection = make(certificate, bundle)
            do {
                try await connection.renew()
                return connection
            } catch {
                guard configuration.joinToken != nil else {
                    throw DataPlaneControlError(
                        "the \(kind) certificate is nearly spent and cannot be renewed (\(error)); start it with --join TOKEN from `\(kind.tokenCommand)`")
                }
                logger.warning("cannot renew the nearly spent \(kind) certificate; joining again", metadata: ["error": "\(error)"])
            }
        case .absent(let reason):
            if let reason { logger.info("the stored identity is not usable", metadata: ["reason": "\(reason)"]) }
        }

        guard let token = configuration.joinToken, !token.isEmpty else {
            let why: String
            switch stored {
            case .absent(let reason?): why = "this \(kind.fileStem) has no usable identity (\(reason))"
            default: why = "this \(kind.fileStem) has no identity yet"
            }
            throw DataPlaneControlError("\(why); start it with --join TOKEN from `\(kind.tokenCommand)`")
        }
        let (certificate, bundle) = try await join(configuration, token: token, expected: identities, files: files, clock: clock)
        do { try ControlPlaneConnection.write(certificate: certificate, trustBundle: bundle, to: files) } catch {
            throw DataPlaneControlError("joined, but cannot keep the identity in \(configuration.stateDirectory): \(error)")
        }
        logger.info("joined the mesh", metadata: ["identity": "\(identities.own)", "serial": "\(certificate.serial)", "control": "\(configuration.control)"])
        return make(certificate, bundle)
    }

    enum Stored {
        case usable(WorkloadCertificate, TrustBundle)
        case nearlySpent(WorkloadCertificate, TrustBundle)
        /// Nothing on disk (nil), or why what is there cannot be used.
        case absent(String?)
    }

    static func loadStored(files: ControlPlaneConnection.Files, expected: SpiffeID, clock: any WallClock) async -> Stored {
        let present = [files.certificate, files.key, files.trustBundle].map(StateFiles.exists)
        guard present.contains(true) else { return .absent(nil) }
        guard !present.contains(false) else {
            return .absent("\(files.certificate), \(files.key) and \(files.trustBundle) are not all present")
        }
        do {
            let bundle = try TrustBundle(trustDomain: expected.trustDomain, pemFile: files.trustBundle)
            let certificate = try WorkloadCertificate.load(certificateFile: files.certificate, keyFile: files.key)
            guard certificate.identity == expected else {
                return .absent("\(files.certificate) is for \(certificate.identity), not \(expected)")
            }
            let verified = await SpiffeVerifier(trustBundle: bundle, clock: clock).verify(chain: certificate.chain, expected: [expected])
            if case .failure(let error) = verified { return .absent(error.message) }
            let remaining = certificate.notAfter - clock.now()
            let lifetime = certificate.notAfter - certificate.notBefore
            return remaining > lifetime * minimumRemainingFraction ? .usable(certificate, bundle) : .nearlySpent(certificate, bundle)
        } catch {
            return .absent("\(error)")
        }
    }

    /// `Certificates.Join` on the join port, then the answer checked.
    static func join(
        _ configuration: Configuration, token: String, expected: (own: SpiffeID, control: SpiffeID), files: ControlPlaneConnection.Files,
        clock: any WallClock
    ) async throws(DataPlaneControlError) -> (WorkloadCertificate, TrustBundle) {
        // The operator's roots; on a re-join (expired certificate) the ones received last time.
        let rootsFile = configuration.trustBundleFile ?? (access(files.trustBundle, R_OK) == 0 ? files.trustBundle : nil)
        let joinAddress = HostPort(host: configuration.control.host, port: configuration.joinPort)
        guard let rootsFile else {
            throw DataPlaneControlError(
                "joining needs --trust-bundle FILE: the mesh root certificate (PEM, <control data dir>/ca/root-cert.pem), to check that the server at \(joinAddress) is the control plane")
        }
        let roots: TrustBundle
        do { roots = try TrustBundle(trustDomain: configuration.trustDomain, pemFile: rootsFile) } catch {
            throw DataPlaneControlError("cannot read the trust bundle: \(error.message)")
        }
        do {
            let (csr, key) = try CSRBuilder.make(for: expected.own)
            var request = Ambit_V1_JoinRequest()
            request.token = token
            request.csrPem = try csr.serializeAsPEM().pemString
            let security = ControlPlaneTLS.joinClient(
                trustRootsPEM: try roots.pemString(),
                verifyPeer: SpiffeVerifier(trustBundle: roots, clock: clock).peerCheck(expected: [expected.control]))
            let response = try await ControlPlaneConnection.call(target: joinAddress, security: security) { [request] client, options in
                try await client.join(request, options: options)
            }
            return try await ControlPlaneConnection.accept(
                chainPEM: response.certChainPem, trustBundlePEM: response.trustBundlePem, key: key, expected: expected.own, clock: clock)
        } catch {
            let reason = ControlPlaneConnection.identityError(error, asking: "a \(configuration.kind.fileStem) certificate", at: "\(joinAddress)")
            throw DataPlaneControlError("cannot join the mesh at \(joinAddress): \(reason.message)")
        }
    }
}
