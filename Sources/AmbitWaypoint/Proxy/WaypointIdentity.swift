import AmbitAPI
import AmbitCore
import AmbitIdentity
import Logging

/// The waypoint's one identity, `spiffe://<td>/ns/<namespace>/sa/<gateway name>`, and the
/// TLS contexts that present it on both sides: HBONE in from nodes, HBONE out to endpoints.
///
/// File mode signs it with a local CA directory (`--ca-dir`, or the MeshConfig's
/// `spec.ca.directory`), the same way `ambit node --config` does, through the identity
/// layer's CSR path and rotation.
public struct WaypointIdentity: Sendable {
    public let id: SpiffeID
    public let certificates: CertificateManager
    public let tls: TLSContextFactory

    public static func localCA(
        scope: WaypointScope, directory: String?, mesh: MeshConfig, clock: any WallClock, logger: Logger
    ) async throws -> WaypointIdentity {
        guard let directory = directory ?? mesh.caDirectory else {
            throw WaypointError(
                .identity,
                "no CA to sign the waypoint's certificate: pass --ca-dir DIR (a directory holding ca-cert.pem, ca-key.pem and root-cert.pem; `ambit dev-ca init --dir DIR` makes one) or name one in the config's MeshConfig spec.ca.directory")
        }
        let id: SpiffeID
        do { id = try scope.identity(trustDomain: mesh.trustDomain) } catch {
            throw WaypointError(.badConfig, "the waypoint \(scope.namespace)/\(scope.name) cannot have a SPIFFE identity: \(error)")
        }
        let ca: CertificateAuthority
        do { ca = try CertificateAuthority.load(directory: directory, trustDomain: mesh.trustDomain, clock: clock) } catch {
            throw WaypointError(.identity, "cannot load the CA from \(directory): \(error)")
        }
        let manager = CertificateManager(provider: LocalCAProvider(ca: ca, ttl: mesh.certificateTTL), clock: clock, logger: logger)
        let tls = await TLSContextFactory(certificates: manager, trustBundle: ca.trustBundle, clock: clock, logger: logger)
        return WaypointIdentity(id: id, certificates: manager, tls: tls)
    }

    /// Control-plane mode: the identity the waypoint joined with (kept in its state
    /// directory and renewed at half life by the connection), and the mesh's trust bundle,
    /// updated when a root rotation reaches the waypoint with its renewal.
    public static func controlPlane(_ joined: DataPlaneControl.Joined, clock: any WallClock, logger: Logger) async -> WaypointIdentity {
        let connection = joined.connection
        let manager = CertificateManager(provider: joined.identityProvider, clock: clock, logger: logger)
        let tls = await TLSContextFactory(certificates: manager, trustBundle: connection.trustBundle, clock: clock, logger: logger)
        let changes = connection.changes()
        Task { [weak tls] in
            for await _ in changes {
                guard let tls else { return }
                let bundle = connection.trustBundle
                if bundle != tls.trustBundle { tls.updateTrustBundle(bundle) }
            }
        }
        return WaypointIdentity(id: connection.identity, certificates: manager, tls: tls)
    }
}
