import AmbitAPI
import AmbitCore
import AmbitIdentity
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Logging

/// How a node gets its own identity from the control plane, once, and keeps it.
///
/// At start: if the state directory holds `node.crt`, `node.key` and `root-cert.pem`, the
/// certificate is this node's, chains to those roots and has more than 10 % of its lifetime
/// left, they are reused (a restart needs no token). A certificate that is still valid but
/// nearly spent is renewed over mutual TLS. Otherwise the node joins: a fresh P-256 key and
/// a CSR for `node-<name>`, sent with the one-time token over server-authenticated TLS to
/// the join port, checking that the server is the control plane under the roots the
/// operator gave (`--trust-bundle`). The answer is checked and written (key 0600).
///
/// Afterwards `NodeControlPlane.maintainCertificate` renews at half life.
public enum NodeBootstrap {
    public struct Configuration: Sendable {
        public var nodeName: String
        public var trustDomain: String
        /// The control plane's mTLS port (push, CA).
        public var control: HostPort
        /// Where `Join` is served: the control port + 1 unless set.
        public var joinPort: Int
        public var stateDirectory: String
        /// The one-time token from `ambit control token create --node NAME`; needed only
        /// when the node has no usable identity yet.
        public var joinToken: String?
        /// The mesh root(s) the operator trusts the control plane under; needed to join.
        public var trustBundleFile: String?

        public init(nodeName: String, trustDomain: String, control: HostPort, stateDirectory: String) {
            self.nodeName = nodeName
            self.trustDomain = trustDomain
            self.control = control
            self.joinPort = control.port + 1
            self.stateDirectory = stateDirectory
        }
    }

    /// A reused certificate must have more than this share of its lifetime left; less, and
    /// the node would start only to renew at once, or fail soon if the control plane is away.
    static let minimumRemainingFraction = 0.1

    /// The node's identity: reused from the state directory, renewed, or obtained by joining.
    public static func start(
        _ configuration: Configuration, clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "ambit.node.bootstrap")
    ) async throws -> NodeControlPlane {
        let identities: (node: SpiffeID, control: SpiffeID)
        do {
            identities = (
                try SpiffeID(trustDomain: configuration.trustDomain, namespace: "ambit-system", serviceAccount: "node-\(configuration.nodeName)"),
                try SpiffeID(trustDomain: configuration.trustDomain, namespace: "ambit-system", serviceAccount: "control")
            )
        } catch {
            throw NodeError(.identity, "node \(configuration.nodeName) in trust domain \(configuration.trustDomain) makes no SPIFFE ID: \(error.message)")
        }
        try StateDirectory.create(configuration.stateDirectory)
        let files = NodeControlPlane.Files(stateDirectory: configuration.stateDirectory)
        let make = { (certificate: WorkloadCertificate, bundle: TrustBundle) in
            NodeControlPlane(
                address: configuration.control, joinPort: configuration.joinPort, nodeName: configuration.nodeName,
                nodeID: identities.node, controlID: identities.control, files: files, certificate: certificate,
                trustBundle: bundle, clock: clock, logger: logger)
        }

        let stored = await loadStored(files: files, expected: identities.node, clock: clock)
        switch stored {
        case .usable(let certificate, let bundle):
            if configuration.joinToken != nil {
                logger.info("this node already has an identity; the join token is not used", metadata: ["identity": "\(identities.node)"])
            }
            logger.info("reusing the node certificate", metadata: ["identity": "\(identities.node)", "serial": "\(certificate.serial)"])
            return make(certificate, bundle)
        case .nearlySpent(let certificate, let bundle):
            let controlPlane = make(certificate, bundle)
            do {
                try await controlPlane.renew()
                return controlPlane
            } catch {
                guard configuration.joinToken != nil else {
                    throw NodeError(.identity, "the node certificate is nearly spent and cannot be renewed (\(error)); \(noIdentityAdvice)")
                }
                logger.warning("cannot renew the nearly spent node certificate; joining again", metadata: ["error": "\(error)"])
            }
        case .absent(let reason):
            if let reason { logger.info("the stored node identity is not usable", metadata: ["reason": "\(reason)"]) }
        }

        guard let token = configuration.joinToken, !token.isEmpty else {
            let why: String
            switch stored {
            case .absent(let reason?): why = "this node has no usable identity (\(reason))"
            default: why = "this node has no identity yet"
            }
            throw NodeError(.identity, "\(why); start it with --join TOKEN from `ambit control token create --node \(configuration.nodeName)`")
        }
        let (certificate, bundle) = try await join(
            configuration, token: token, nodeID: identities.node, controlID: identities.control, files: files, clock: clock)
        try NodeControlPlane.write(certificate: certificate, trustBundle: bundle, to: files)
        logger.info("joined the mesh", metadata: ["identity": "\(identities.node)", "serial": "\(certificate.serial)", "control": "\(configuration.control)"])
        return make(certificate, bundle)
    }

    static let noIdentityAdvice = "start it with --join TOKEN from `ambit control token create --node NAME`"

    enum Stored {
        case usable(WorkloadCertificate, TrustBundle)
        case nearlySpent(WorkloadCertificate, TrustBundle)
        /// Nothing on disk (nil), or why what is there cannot be used.
        case absent(String?)
    }

    static func loadStored(files: NodeControlPlane.Files, expected: SpiffeID, clock: any WallClock) async -> Stored {
        let present = [files.certificate, files.key, files.trustBundle].map { (path: String) in access(path, F_OK) == 0 }
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
        _ configuration: Configuration, token: String, nodeID: SpiffeID, controlID: SpiffeID, files: NodeControlPlane.Files,
        clock: any WallClock
    ) async throws -> (WorkloadCertificate, TrustBundle) {
        // The operator's roots; on a re-join (expired certificate) the ones received last time.
        let rootsFile = configuration.trustBundleFile ?? (access(files.trustBundle, R_OK) == 0 ? files.trustBundle : nil)
        guard let rootsFile else {
            throw NodeError(
                .identity,
                "joining needs --trust-bundle FILE: the mesh root certificate (PEM), to check that the server at \(configuration.control.host):\(configuration.joinPort) is the control plane")
        }
        let roots: TrustBundle
        do { roots = try TrustBundle(trustDomain: configuration.trustDomain, pemFile: rootsFile) } catch {
            throw NodeError(.identity, "cannot read the trust bundle: \(error.message)")
        }
        let (csr, key) = try CSRBuilder.make(for: nodeID)
        var request = Ambit_V1_JoinRequest()
        request.token = token
        request.csrPem = try csr.serializeAsPEM().pemString
        let joinAddress = HostPort(host: configuration.control.host, port: configuration.joinPort)
        let security = ControlPlaneTLS.joinClient(
            trustRootsPEM: try roots.pemString(),
            verifyPeer: SpiffeVerifier(trustBundle: roots, clock: clock).peerCheck(expected: [controlID]))
        do {
            let response = try await NodeControlPlane.call(target: joinAddress, security: security) { [request] client, options in
                try await client.join(request, options: options)
            }
            return try await NodeControlPlane.accept(
                chainPEM: response.certChainPem, trustBundlePEM: response.trustBundlePem, key: key, expected: nodeID, clock: clock)
        } catch {
            let reason = NodeControlPlane.identityError(error, asking: "a node certificate", at: "\(joinAddress)")
            throw NodeError(.identity, "cannot join the mesh at \(joinAddress): \(reason.message)")
        }
    }
}

extension NodeControlPlane {
    /// Renews the node certificate at half life (`RotationPolicy`), retrying failures with
    /// jittered backoff, until cancelled. A control plane away for less than half a lifetime
    /// goes unnoticed; after expiry the node needs a new join token.
    public func maintainCertificate(policy: RotationPolicy = .init(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) async {
        var failures = 0
        while !Task.isCancelled {
            let current = certificate
            let at = failures == 0
                ? policy.refreshTime(notBefore: current.notBefore, notAfter: current.notAfter)
                : clock.now() + policy.retryDelay(attempt: failures, random: random())
            do { try await clock.sleep(until: at) } catch { return }
            do {
                try await renew()
                failures = 0
            } catch {
                failures += 1
                let expired = clock.now() >= certificate.notAfter
                logger.error(
                    expired ? "the node certificate expired and cannot be renewed; restart the node with a new --join token" : "cannot renew the node certificate; will retry",
                    metadata: ["error": "\(error)", "attempt": "\(failures)", "notAfter": "\(certificate.notAfter)"])
            }
        }
    }

    /// One renewal over mutual TLS as the current node identity; rewrites the files.
    public func renew() async throws {
        let (certificate, bundle) = try await requestCertificate(for: nodeID)
        try replace(certificate: certificate, trustBundle: bundle)
        logger.info("node certificate renewed", metadata: ["serial": "\(certificate.serial)", "notAfter": "\(certificate.notAfter)"])
    }
}
