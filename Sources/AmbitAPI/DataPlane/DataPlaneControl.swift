import AmbitCore
import AmbitIdentity
import Logging

/// The one call a data-plane process makes to join and follow the control plane.
///
///     let joined = try await DataPlaneControl.join(
///         kind: .waypoint(namespace: "shop", name: "waypoint"), control: HostPort(host: "10.0.0.1", port: 15012),
///         token: token, trustBundle: "/etc/ambit/root-cert.pem", stateDir: "/var/lib/ambit/waypoint")
///     let running = Task { await joined.run() }          // config stream + own certificate renewal
///     for await snapshot in joined.config.snapshots() { ... }   // the waypoint's scoped mesh
///     // TLS: joined.identityProvider (a CertificateProvider), joined.connection.trustBundle,
///     // joined.connection.changes() for root rotations.
///
/// What it does: reuses the identity kept in `stateDir` or joins with `token`
/// (`DataPlaneBootstrap`), then builds the config source (`PushConfigSource`, which keeps
/// the last accepted config in `stateDir` and serves it after a restart while the control
/// plane is down) and the certificate provider for the identities the process serves.
public enum DataPlaneControl {
    public struct Joined: Sendable {
        public let connection: ControlPlaneConnection
        public let config: PushConfigSource
        /// Certificates for the identities this process serves: a node's workloads (from
        /// the CA, kept on disk), or a waypoint's own identity.
        public let identityProvider: any CertificateProvider

        /// Keeps the config stream open and the process's own certificate renewed at half
        /// life, until cancelled.
        public func run() async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await config.run() }
                group.addTask { await connection.maintainCertificate() }
                await group.waitForAll()
            }
        }
    }

    /// - Parameters:
    ///   - control: the control plane's mTLS address (15012); `Join` is at its port + 1
    ///     unless `joinPort` says otherwise.
    ///   - token: the one-time join token; needed only when `stateDir` holds no usable
    ///     identity yet.
    ///   - trustBundle: the mesh root certificate file the control plane must prove itself
    ///     under when joining (`<control data dir>/ca/root-cert.pem`).
    public static func join(
        kind: DataPlaneKind, control: HostPort, token: String?, trustBundle: String?, stateDir: String,
        trustDomain: String = "cluster.local", joinPort: Int? = nil, clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "ambit.dataplane")
    ) async throws(DataPlaneControlError) -> Joined {
        var configuration = DataPlaneBootstrap.Configuration(kind: kind, trustDomain: trustDomain, control: control, stateDirectory: stateDir)
        if let joinPort { configuration.joinPort = joinPort }
        configuration.joinToken = token
        configuration.trustBundleFile = trustBundle
        let connection = try await DataPlaneBootstrap.start(configuration, clock: clock, logger: logger)
        return Joined(
            connection: connection, config: PushConfigSource(connection: connection, logger: logger),
            identityProvider: identityProvider(for: connection, logger: logger))
    }

    /// What a process of `connection.kind` gets its serving certificates from.
    public static func identityProvider(for connection: ControlPlaneConnection, logger: Logger) -> any CertificateProvider {
        switch connection.kind {
        case .node:
            return PersistedCertificates(
                inner: ControlPlaneCertificateProvider(connection: connection), directory: connection.files.workloadCertificates,
                trustBundle: { connection.trustBundle }, clock: connection.clock, logger: logger)
        case .waypoint:
            return OwnCertificateProvider(connection: connection)
        }
    }
}

/// A waypoint serves one identity, its own, and already holds a certificate for it (kept
/// on disk and renewed at half life by `ControlPlaneConnection`). Handing that one out,
/// renewed first when it is due, means one key per waypoint and a restart that needs no
/// control plane.
public struct OwnCertificateProvider: CertificateProvider {
    public let connection: ControlPlaneConnection
    public let policy: RotationPolicy

    public init(connection: ControlPlaneConnection, policy: RotationPolicy = .init()) {
        self.connection = connection
        self.policy = policy
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        guard identity == connection.identity else {
            throw IdentityError(.unauthorized, "this \(connection.kind) serves only \(connection.identity), not \(identity)")
        }
        let current = connection.certificate
        if policy.refreshTime(notBefore: current.notBefore, notAfter: current.notAfter) <= connection.clock.now() {
            do { try await connection.renew() } catch where connection.clock.now() < current.notAfter {
                // Still valid: serve it; the certificate manager retries on its schedule.
                return current
            }
        }
        return connection.certificate
    }
}
