import AmbitCore
import AmbitIdentity
import Logging
import NIOCertificateReloading
import NIOConcurrencyHelpers
import NIOSSL

/// The control plane's own certificate (`spiffe://<td>/ns/ambit-system/sa/control`), which
/// both listeners present, kept fresh while the process runs.
///
/// It is issued by the control plane's CA at start and again at half life
/// (`RotationPolicy`, retried with backoff on failure), and handed to TLS through a
/// `CertificateReloader`: every new handshake presents the certificate in force at that
/// moment, open connections keep theirs. Without this, a control plane running longer than
/// its certificate's lifetime would refuse every node from then on.
public final class ServingCertificate: CertificateReloader, Sendable {
    public let identity: SpiffeID
    private let ca: CertificateAuthority
    private let ttl: Double
    private let clock: any WallClock
    private let logger: Logger
    private let state: NIOLockedValueBox<(certificate: WorkloadCertificate, override: NIOSSLContextConfigurationOverride)>

    /// Issues the first certificate.
    public init(identity: SpiffeID, ca: CertificateAuthority, ttl: Double, clock: any WallClock, logger: Logger) async throws {
        self.identity = identity
        self.ca = ca
        self.ttl = ttl
        self.clock = clock
        self.logger = logger
        let first = try await Self.issue(identity, ca: ca, ttl: ttl)
        state = NIOLockedValueBox((first, try Self.override(first)))
    }

    public var certificate: WorkloadCertificate { state.withLockedValue { $0.certificate } }

    public var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride { state.withLockedValue { $0.override } }

    /// Renews at half life until cancelled; `onRenewal` runs after each renewal.
    public func maintain(
        policy: RotationPolicy = .init(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        onRenewal: @Sendable (WorkloadCertificate) async -> Void = { _ in }
    ) async {
        var failures = 0
        while !Task.isCancelled {
            let current = certificate
            let at = failures == 0
                ? policy.refreshTime(notBefore: current.notBefore, notAfter: current.notAfter)
                : clock.now() + policy.retryDelay(attempt: failures, random: random())
            do { try await clock.sleep(until: at) } catch { return }
            do {
                let fresh = try await Self.issue(identity, ca: ca, ttl: ttl)
                let override = try Self.override(fresh)
                state.withLockedValue { $0 = (fresh, override) }
                failures = 0
                logger.info("renewed the control plane's serving certificate", metadata: ["serial": "\(fresh.serial)", "notAfter": "\(fresh.notAfter)"])
                await onRenewal(fresh)
            } catch {
                failures += 1
                logger.error("cannot renew the control plane's serving certificate; will retry", metadata: ["error": "\(error)", "attempt": "\(failures)"])
            }
        }
    }

    static func issue(_ identity: SpiffeID, ca: CertificateAuthority, ttl: Double) async throws -> WorkloadCertificate {
        let (csr, key) = try CSRBuilder.make(for: identity)
        let chain = try await ca.sign(csr, ttl: ttl) { _ in }
        return try WorkloadCertificate(identity: identity, chain: chain, privateKey: key)
    }

    private static func override(_ certificate: WorkloadCertificate) throws -> NIOSSLContextConfigurationOverride {
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(try certificate.chainPEM().utf8)).map { .certificate($0) }
        override.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))
        return override
    }
}
