import AmbitAPI
import AmbitCore
import AmbitIdentity
import Logging
import NIOConcurrencyHelpers

/// The workload certificates of this node: one per service account that has an enrolled
/// pod here, issued through the identity layer (never a node certificate for workload
/// traffic).
///
/// Two ways to get them, chosen by `NodeDaemon.IdentityMode`:
/// - **local CA** (`ambit node --config`): signed in-process by the CA the config file's
///   MeshConfig names (`spec.ca.directory`);
/// - **control plane** (`ambit node --control`): CSRs to the control plane's CA over mutual
///   TLS as the node (`ControlPlaneCertificateProvider`, kept on disk by `PersistedCertificates`); the trust bundle is the one the control plane
///   sent, kept current as it renews the node certificate.
///
/// Either way the node asks only for identities of pods enrolled here (the control plane's
/// CA enforces the same rule remotely; checking here too fails fast and never bothers it).
final class NodeIdentity: Sendable {
    let certificates: CertificateManager
    let tls: TLSContextFactory
    private let allowed: NIOLockedValueBox<Set<SpiffeID>>

    private init(certificates: CertificateManager, tls: TLSContextFactory, allowed: NIOLockedValueBox<Set<SpiffeID>>) {
        self.certificates = certificates
        self.tls = tls
        self.allowed = allowed
    }

    static func fileMode(mesh: MeshConfig, clock: any WallClock, logger: Logger) async throws -> NodeIdentity {
        guard let directory = mesh.caDirectory else {
            throw NodeError(
                .identity,
                "the config names no CA: add a MeshConfig with spec.ca.directory (a directory holding ca-cert.pem, ca-key.pem and root-cert.pem; `ambit dev-ca init --dir DIR` makes one), or run the node with --control")
        }
        let ca: CertificateAuthority
        do { ca = try CertificateAuthority.load(directory: directory, trustDomain: mesh.trustDomain, clock: clock) } catch {
            throw NodeError(.identity, "cannot load the CA from \(directory): \(error)")
        }
        return await make(provider: LocalCAProvider(ca: ca, ttl: mesh.certificateTTL), trustBundle: ca.trustBundle, clock: clock, logger: logger)
    }

    static func controlPlaneMode(_ controlPlane: NodeControlPlane, clock: any WallClock, logger: Logger) async -> NodeIdentity {
        // Kept on disk too (`PersistedCertificates`), so a restart while the control plane is
        // down still has each workload's certificate.
        let identity = await make(
            provider: DataPlaneControl.identityProvider(for: controlPlane, logger: logger), trustBundle: controlPlane.trustBundle,
            clock: clock, logger: logger)
        // A root rotation reaches the node with its certificate renewal; peers are then
        // verified against the new bundle.
        let changes = controlPlane.changes()
        Task { [weak tls = identity.tls] in
            for await _ in changes {
                guard let tls else { return }
                let bundle = controlPlane.trustBundle
                if bundle != tls.trustBundle { tls.updateTrustBundle(bundle) }
            }
        }
        return identity
    }

    private static func make(provider: any CertificateProvider, trustBundle: TrustBundle, clock: any WallClock, logger: Logger) async -> NodeIdentity {
        let allowed = NIOLockedValueBox<Set<SpiffeID>>([])
        let manager = CertificateManager(provider: EnrolledOnly(inner: provider, allowed: allowed), clock: clock, logger: logger)
        let tls = await TLSContextFactory(certificates: manager, trustBundle: trustBundle, clock: clock, logger: logger)
        return NodeIdentity(certificates: manager, tls: tls, allowed: allowed)
    }

    /// The identities this node may hold certificates for (its enrolled pods' service
    /// accounts). Certificates of identities that left are dropped.
    func setIdentities(_ identities: Set<SpiffeID>) async {
        let removed = allowed.withLockedValue { current -> Set<SpiffeID> in
            let gone = current.subtracting(identities)
            current = identities
            return gone
        }
        for identity in removed { await certificates.forget(identity) }
    }
}

/// Asks the real provider only for identities of pods enrolled on this node.
private struct EnrolledOnly: CertificateProvider {
    let inner: any CertificateProvider
    let allowed: NIOLockedValueBox<Set<SpiffeID>>

    func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        guard allowed.withLockedValue({ $0.contains(identity) }) else {
            throw NodeError(.identity, "no workload with identity \(identity) is enrolled on this node")
        }
        return try await inner.fetchCertificate(for: identity)
    }
}
