import AmbitCore
import FoundationEssentials
import SwiftASN1
@_spi(FixedExpiryValidationTime) import X509

/// Decides whether a peer's certificate chain proves a workload identity.
///
/// Chain building and the generic X.509 rules (signatures, validity at the injected clock's
/// "now", CA constraints) are swift-certificates' `RFC5280Policy`; the SPIFFE rules are our
/// own `SpiffePeerPolicy` beside it. Keeping them apart means each failure says which rule
/// it broke.
public struct SpiffeVerifier: Sendable {
    public let trustBundle: TrustBundle
    public let clock: any WallClock

    public init(trustBundle: TrustBundle, clock: any WallClock = SystemWallClock()) {
        self.trustBundle = trustBundle
        self.clock = clock
    }

    /// Verifies `chain` (leaf first, as the peer sent it).
    ///
    /// - Parameter expected: identities acceptable for this peer; `nil` accepts any identity
    ///   of the trust domain (a server does not know its clients in advance; authorization
    ///   decides later).
    public func verify(chain: [Certificate], expected: Set<SpiffeID>?) async -> Result<SpiffeID, IdentityError> {
        guard let leaf = chain.first else {
            return .failure(IdentityError(.verification, "the peer presented no certificate; mesh traffic requires mutual TLS"))
        }
        let now = Date(timeIntervalSince1970: clock.now())
        var verifier = Verifier(rootCertificates: CertificateStore(trustBundle.roots)) {
            // The injected clock's time, so expiry is testable without waiting.
            RFC5280Policy(fixedExpiryValidationTime: now)
            SpiffePeerPolicy(trustDomain: trustBundle.trustDomain, expected: expected)
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
        switch result {
        case .validCertificate:
            do { return .success(try SpiffeSAN.identity(of: leaf)) } catch { return .failure(error) }
        case .couldNotValidate(let failures):
            return .failure(IdentityError(.verification, Self.explain(leaf: leaf, failures: failures, now: now)))
        }
    }

    /// Turns swift-certificates' failure list into one sentence a person can act on.
    static func explain(leaf: Certificate, failures: [CertificateValidationResult.PolicyFailure], now: Date) -> String {
        let who = (try? SpiffeSAN.identity(of: leaf)).map { "\($0)" } ?? "a peer without a valid SPIFFE ID"
        if now > leaf.notValidAfter {
            return "the certificate of \(who) expired at \(leaf.notValidAfter); check the peer's certificate renewal and both clocks"
        }
        if now < leaf.notValidBefore {
            return "the certificate of \(who) is not valid before \(leaf.notValidBefore); check the clocks of both hosts"
        }
        if failures.isEmpty {
            return "the certificate of \(who) does not chain to the mesh trust bundle; was it issued by another CA?"
        }
        let reasons = Set(failures.map { "\($0.policyFailureReason)" }).sorted().joined(separator: "; ")
        return "the certificate of \(who) was rejected: \(reasons)"
    }
}

/// The SPIFFE part of verification: the leaf carries exactly one SPIFFE ID, in our trust
/// domain, and (for a client checking a server) one of the identities we expect there.
struct SpiffePeerPolicy: VerifierPolicy {
    let trustDomain: String
    let expected: Set<SpiffeID>?

    /// SPIFFE certificates may mark the SAN critical (they have an empty subject), so this
    /// policy is what handles that extension.
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let identity: SpiffeID
        do { identity = try SpiffeSAN.identity(of: chain.leaf) } catch {
            return .failsToMeetPolicy(reason: error.message)
        }
        guard identity.trustDomain == trustDomain else {
            return .failsToMeetPolicy(
                reason: "\(identity) belongs to trust domain '\(identity.trustDomain)', not '\(trustDomain)'")
        }
        if let expected, !expected.contains(identity) {
            let list = expected.sorted().map(\.uri).joined(separator: ", ")
            return .failsToMeetPolicy(
                reason: "the peer is \(identity), but this destination is expected to be one of [\(list)]")
        }
        return .meetsPolicy
    }
}
