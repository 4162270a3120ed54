import AmbitCore
import AmbitIdentity

extension ControlPlaneConnection {
    /// Renews this process's own certificate at half life (`RotationPolicy`), retrying
    /// failures with jittered backoff, until cancelled. A control plane away for less than
    /// half a lifetime goes unnoticed; after expiry the process needs a new join token.
    public func maintainCertificate(
        policy: RotationPolicy = .init(), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) async {
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
                let message = expired
                    ? "the \(kind) certificate expired and cannot be renewed; restart it with a new join token (`\(kind.tokenCommand)`)"
                    : "cannot renew the \(kind) certificate; will retry"
                logger.error(
                    "\(message)",
                    metadata: ["error": "\(error)", "attempt": "\(failures)", "notAfter": "\(certificate.notAfter)"])
            }
        }
    }

    /// One renewal over mutual TLS as the current identity; rewrites the files.
    public func renew() async throws {
        let (certificate, bundle) = try await requestCertificate(for: identity)
        try replace(certificate: certificate, trustBundle: bundle)
        logger.info("\(kind) certificate renewed", metadata: ["serial": "\(certificate.serial)", "notAfter": "\(certificate.notAfter)"])
    }
}
