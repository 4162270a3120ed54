import AmbitCore
import AmbitIdentity
import Glibc
import Logging
import NIOConcurrencyHelpers

/// Workload certificates from the control plane's CA: `Certificates.CreateCertificate` on
/// the control port, authenticated as this process (mutual TLS with its own certificate).
///
/// The CSR is made here and only it travels; the key never leaves the process. The CA signs
/// for a node only identities of workloads scheduled on it, for a waypoint only its own;
/// a refusal comes back as `IdentityError(.unauthorized)` carrying the CA's own message, an
/// unreachable control plane as `.unavailable` (the certificate manager retries, and keeps
/// serving a certificate that is still valid meanwhile).
public struct ControlPlaneCertificateProvider: CertificateProvider {
    public let connection: ControlPlaneConnection

    public init(connection: ControlPlaneConnection) {
        self.connection = connection
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        try await connection.requestCertificate(for: identity).0
    }
}

/// Keeps every certificate its inner provider issues in the state directory (key 0600), so
/// that a process restarted while the control plane is down still has the certificates
/// its workloads need: when the control plane is unreachable (`.unavailable`) and a stored
/// certificate for the identity is still valid under the current roots, that one is
/// handed out, once (after that, renewal failures are the certificate manager's to retry,
/// keeping it until it expires). Refusals (`.unauthorized`) are never papered over.
///
/// Files: `<directory>/<namespace>.<service account>.crt` and `.key` (a namespace holds no
/// dot, so the name is unambiguous). Expired files are removed whenever one is written.
public final class PersistedCertificates: CertificateProvider {
    public let directory: String
    private let inner: any CertificateProvider
    private let trustBundle: @Sendable () -> TrustBundle
    private let clock: any WallClock
    private let logger: Logger
    /// Serials already handed out from disk.
    private let served = NIOLockedValueBox<Set<String>>([])

    public init(
        inner: any CertificateProvider, directory: String, trustBundle: @escaping @Sendable () -> TrustBundle,
        clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "ambit.identity")
    ) {
        self.inner = inner
        self.directory = directory
        self.trustBundle = trustBundle
        self.clock = clock
        self.logger = logger
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        do {
            let certificate = try await inner.fetchCertificate(for: identity)
            save(certificate)
            return certificate
        } catch let error as IdentityError where error.code == .unavailable {
            guard let stored = await stored(identity) else { throw error }
            logger.warning(
                "the control plane is unreachable; using the certificate kept from before until it can be renewed",
                metadata: ["identity": "\(identity)", "serial": "\(stored.serial)", "notAfter": "\(stored.notAfter)", "error": "\(error.message)"])
            return stored
        }
    }

    /// Where the certificate and key for `identity` are kept.
    public func files(_ identity: SpiffeID) -> (certificate: String, key: String) {
        let stem = "\(directory)/\(identity.namespace).\(identity.serviceAccount)"
        return (stem + ".crt", stem + ".key")
    }

    private func save(_ certificate: WorkloadCertificate) {
        do {
            try StateFiles.createDirectory(directory)
            let f = files(certificate.identity)
            try certificate.write(certificateFile: f.certificate, keyFile: f.key)
        } catch {
            logger.warning("cannot keep the workload certificate; a restart while the control plane is down will lack it", metadata: ["identity": "\(certificate.identity)", "error": "\(error)"])
        }
        pruneExpired()
    }

    /// A stored certificate for `identity` not yet handed out, valid now under the roots.
    private func stored(_ identity: SpiffeID) async -> WorkloadCertificate? {
        let f = files(identity)
        guard let certificate = try? WorkloadCertificate.load(certificateFile: f.certificate, keyFile: f.key),
            certificate.identity == identity
        else { return nil }
        guard case .success = await SpiffeVerifier(trustBundle: trustBundle(), clock: clock).verify(chain: certificate.chain, expected: [identity]) else {
            return nil
        }
        return served.withLockedValue { $0.insert(certificate.serial).inserted } ? certificate : nil
    }

    private func pruneExpired() {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        let now = clock.now()
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".crt") else { continue }
            let stem = directory + "/" + name.dropLast(4)
            guard let certificate = try? WorkloadCertificate.load(certificateFile: stem + ".crt", keyFile: stem + ".key"), certificate.notAfter > now else {
                unlink(stem + ".crt")
                unlink(stem + ".key")
                continue
            }
        }
    }
}
