import AmbitCore
import Logging

/// Keeps one certificate per workload identity present on this node.
///
/// - A certificate is fetched the first time someone asks for it; concurrent askers share
///   one fetch.
/// - It is renewed at `RotationPolicy.refreshTime` (half life by default). A failed
///   renewal is retried with jittered exponential backoff, and the old certificate stays in
///   use until it actually expires: a CA outage shorter than half a lifetime is invisible.
/// - At most `maximumConcurrentFetches` requests are in flight to the provider at once, so
///   a node that starts with a hundred service accounts does not stampede the CA.
/// - When a fetch fails and there is no valid certificate, connections asking in the
///   backoff window fail at once with the last error: a CA outage is not made worse by
///   one request per new connection.
/// - Everything timed runs on the injected `WallClock`.
public actor CertificateManager {
    /// What `/certs` shows for one identity.
    public struct Status: Sendable {
        public let identity: SpiffeID
        public let serial: String?
        public let notBefore: Double?
        public let notAfter: Double?
        public let refreshAt: Double?
        public let consecutiveFailures: Int
        public let lastError: String?
    }

    private struct Entry {
        var certificate: WorkloadCertificate?
        var fetch: Task<WorkloadCertificate, any Error>?
        var renewal: Task<Void, Never>?
        var failures = 0
        var lastError: String?
        /// After an on-demand fetch failed with no valid certificate to fall back on, asks
        /// before this moment fail at once instead of going to the CA again.
        var retryNotBefore: Double?
    }

    private let provider: any CertificateProvider
    private let clock: any WallClock
    private let policy: RotationPolicy
    private let maximumConcurrentFetches: Int
    private let random: @Sendable () -> Double
    private let logger: Logger
    private var entries: [SpiffeID: Entry] = [:]
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var observers: [@Sendable (SpiffeID) -> Void] = []

    public init(
        provider: any CertificateProvider,
        clock: any WallClock = SystemWallClock(),
        policy: RotationPolicy = .init(),
        maximumConcurrentFetches: Int = 8,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        logger: Logger = Logger(label: "ambit.identity")
    ) {
        self.provider = provider
        self.clock = clock
        self.policy = policy
        self.maximumConcurrentFetches = max(1, maximumConcurrentFetches)
        self.random = random
        self.logger = logger
    }

    /// Called with an identity whenever its certificate changes (issued, rotated, expired).
    /// The TLS context factory uses it to drop cached contexts.
    public func onChange(_ observer: @escaping @Sendable (SpiffeID) -> Void) {
        observers.append(observer)
    }

    /// The current certificate for `identity`, fetching it if there is none that is valid.
    public func certificate(for identity: SpiffeID) async throws(IdentityError) -> WorkloadCertificate {
        let now = clock.now()
        if let cert = entries[identity]?.certificate, now < cert.notAfter { return cert }
        let task: Task<WorkloadCertificate, any Error>
        if let running = entries[identity]?.fetch {
            task = running
        } else if let entry = entries[identity], let notBefore = entry.retryNotBefore, now < notBefore {
            throw IdentityError(
                .unavailable,
                "no certificate for \(identity): the last request failed (\(entry.lastError ?? "unknown error")); next attempt in \(Int((notBefore - now).rounded(.up))) s")
        } else {
            task = Task { try await self.fetchAndInstall(identity) }
            entries[identity, default: Entry()].fetch = task
        }
        do {
            return try await task.value
        } catch let error as IdentityError {
            throw error
        } catch {
            throw IdentityError(.unavailable, "cannot obtain a certificate for \(identity): \(error)")
        }
    }

    /// Stops renewing `identity` (its last workload left the node) and drops its certificate.
    public func forget(_ identity: SpiffeID) {
        guard let entry = entries.removeValue(forKey: identity) else { return }
        entry.renewal?.cancel()
        notify(identity)
    }

    public func status() -> [Status] {
        entries.keys.sorted().map { id in
            let e = entries[id]!
            return Status(
                identity: id, serial: e.certificate?.serial, notBefore: e.certificate?.notBefore,
                notAfter: e.certificate?.notAfter,
                refreshAt: e.certificate.map { policy.refreshTime(notBefore: $0.notBefore, notAfter: $0.notAfter) },
                consecutiveFailures: e.failures, lastError: e.lastError)
        }
    }

    // MARK: - Fetching

    private func fetchAndInstall(_ identity: SpiffeID) async throws -> WorkloadCertificate {
        do {
            let cert = try await fetchBounded(identity)
            // Optional chaining: if the identity was forgotten meanwhile, it stays forgotten.
            entries[identity]?.fetch = nil
            install(cert, for: identity)
            return cert
        } catch {
            // Re-check after the await: the identity may have been forgotten meanwhile.
            if entries[identity] != nil {
                entries[identity]!.fetch = nil
                entries[identity]!.lastError = "\(error)"
                entries[identity]!.failures += 1
                let delay = policy.retryDelay(attempt: entries[identity]!.failures, random: random())
                entries[identity]!.retryNotBefore = clock.now() + delay
            }
            logger.warning("certificate request failed", metadata: ["identity": "\(identity)", "error": "\(error)"])
            throw error
        }
    }

    private func fetchBounded(_ identity: SpiffeID) async throws -> WorkloadCertificate {
        while inFlight >= maximumConcurrentFetches {
            await withCheckedContinuation { waiters.append($0) }
        }
        inFlight += 1
        defer {
            inFlight -= 1
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        let cert = try await provider.fetchCertificate(for: identity)
        guard cert.identity == identity else {
            throw IdentityError(.unavailable, "asked for \(identity) and was given a certificate for \(cert.identity)")
        }
        return cert
    }

    private func install(_ cert: WorkloadCertificate, for identity: SpiffeID) {
        guard entries[identity] != nil else { return }  // forgotten while fetching
        entries[identity]!.certificate = cert
        entries[identity]!.failures = 0
        entries[identity]!.lastError = nil
        entries[identity]!.retryNotBefore = nil
        logger.info(
            "certificate installed",
            metadata: ["identity": "\(identity)", "serial": "\(cert.serial)", "notAfter": "\(cert.notAfter)"])
        // Each certificate gets its own renewal task; the previous one (which may be the
        // caller) stops here.
        entries[identity]!.renewal?.cancel()
        entries[identity]!.renewal = Task { await self.renewLoop(identity) }
        notify(identity)
    }

    // MARK: - Renewal

    private func renewLoop(_ identity: SpiffeID) async {
        while !Task.isCancelled {
            guard let entry = entries[identity], let cert = entry.certificate else { return }
            let wakeAt = entry.failures == 0
                ? policy.refreshTime(notBefore: cert.notBefore, notAfter: cert.notAfter)
                : clock.now() + policy.retryDelay(attempt: entry.failures, random: random())
            do { try await clock.sleep(until: wakeAt) } catch { return }
            guard entries[identity] != nil else { return }
            do {
                let fresh = try await fetchBounded(identity)
                // A provider that hands back a certificate already due (the same one, or an
                // expired one) would otherwise make this loop spin; treat it as a failure.
                guard policy.refreshTime(notBefore: fresh.notBefore, notAfter: fresh.notAfter) > clock.now() else {
                    throw IdentityError(
                        .unavailable,
                        "the certificate source returned a certificate for \(identity) that is already due for renewal (serial \(fresh.serial)); is the CA or the certificate file stale?")
                }
                install(fresh, for: identity)
                return
            } catch {
                guard entries[identity] != nil else { return }
                entries[identity]!.failures += 1
                entries[identity]!.lastError = "\(error)"
                let expired = clock.now() >= cert.notAfter
                logger.warning(
                    "certificate renewal failed",
                    metadata: [
                        "identity": "\(identity)", "attempt": "\(entries[identity]!.failures)",
                        "error": "\(error)", "keeping": "\(expired ? "nothing, it expired" : cert.serial)",
                    ])
                if expired {
                    // An expired certificate proves nothing; the next connection asks afresh.
                    entries[identity]!.certificate = nil
                    entries[identity]!.renewal = nil
                    notify(identity)
                    return
                }
            }
        }
    }

    private func notify(_ identity: SpiffeID) {
        for observer in observers { observer(identity) }
    }
}
