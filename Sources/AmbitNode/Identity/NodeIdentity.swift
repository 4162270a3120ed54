import AmbitCore
import AmbitIdentity
import Logging
import NIOConcurrencyHelpers

/// The workload certificates of this node: one per service account that has an enrolled
/// pod here, issued through the identity layer (never a node certificate for workload
/// traffic).
///
/// In file mode they are signed by the CA the config file names; the CA is asked only for
/// identities of workloads scheduled on this node (the same rule the control plane's CA
/// will enforce remotely).
final class NodeIdentity: Sendable {
    let certificates: CertificateManager
    let tls: TLSContextFactory
    let ca: CertificateAuthority
    private let allowed: NIOLockedValueBox<Set<SpiffeID>>

    private init(certificates: CertificateManager, tls: TLSContextFactory, ca: CertificateAuthority, allowed: NIOLockedValueBox<Set<SpiffeID>>) {
        self.certificates = certificates
        self.tls = tls
        self.ca = ca
        self.allowed = allowed
    }

    static func fileMode(mesh: MeshConfig, clock: any WallClock, logger: Logger) async throws -> NodeIdentity {
        guard let directory = mesh.caDirectory else {
            throw NodeError(
                .identity,
                "the config names no CA: add a MeshConfig with spec.ca.directory (a directory holding ca-cert.pem, ca-key.pem and root-cert.pem; `ambit dev-ca init --dir DIR` makes one)")
        }
        let ca: CertificateAuthority
        do { ca = try CertificateAuthority.load(directory: directory, trustDomain: mesh.trustDomain, clock: clock) } catch {
            throw NodeError(.identity, "cannot load the CA from \(directory): \(error)")
        }
        let allowed = NIOLockedValueBox<Set<SpiffeID>>([])
        let provider = LocalCAProvider(ca: ca, ttl: mesh.certificateTTL) { identity in
            guard allowed.withLockedValue({ $0.contains(identity) }) else {
                throw NodeError(.identity, "no workload with identity \(identity) is enrolled on this node")
            }
        }
        let manager = CertificateManager(provider: provider, clock: clock, logger: logger)
        let tls = await TLSContextFactory(certificates: manager, trustBundle: ca.trustBundle, clock: clock, logger: logger)
        return NodeIdentity(certificates: manager, tls: tls, ca: ca, allowed: allowed)
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
