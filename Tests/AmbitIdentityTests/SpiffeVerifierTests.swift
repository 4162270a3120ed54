import AmbitCore
import AmbitTesting
import Testing

@testable import AmbitIdentity

/// Chain and SPIFFE checks without a handshake; the handshake versions of these live in
/// AmbitTunnelTests/HBONESecurityTests.
struct SpiffeVerifierTests {
    let pki: TestPKI
    let id: SpiffeID
    init() throws {
        pki = try TestPKI()
        id = pki.id("payments", "ledger")
    }

    func verify(_ cert: WorkloadCertificate, expected: Set<SpiffeID>? = nil, bundle: TrustBundle? = nil) async -> Result<SpiffeID, IdentityError> {
        await SpiffeVerifier(trustBundle: bundle ?? pki.trustBundle, clock: pki.clock).verify(chain: cert.chain, expected: expected)
    }

    func message(_ result: Result<SpiffeID, IdentityError>) -> String {
        if case .failure(let e) = result { return e.message }
        return "accepted"
    }

    @Test func acceptsAValidCertificate() async throws {
        #expect(try await verify(try pki.workloadCertificate(for: id)).get() == id)
        #expect(try await verify(try pki.workloadCertificate(for: id), expected: [id]).get() == id)
    }

    @Test func rejectsExpired() async throws {
        let now = pki.clock.now()
        let result = await verify(try pki.workloadCertificate(for: id, notBefore: now - 7200, notAfter: now - 1))
        #expect(message(result).contains("expired"))
    }

    @Test func rejectsNotYetValid() async throws {
        let now = pki.clock.now()
        let result = await verify(try pki.workloadCertificate(for: id, notBefore: now + 600, notAfter: now + 7200))
        #expect(message(result).contains("not valid before"))
    }

    @Test func rejectsAnotherCA() async throws {
        let result = await verify(try TestPKI().workloadCertificate(for: id))
        #expect(message(result).contains("payments/sa/ledger"))
        #expect(message(result) != "accepted")
    }

    @Test func rejectsAnotherTrustDomain() async throws {
        let result = await verify(try pki.workloadCertificate(for: id, uri: "spiffe://evil.example/ns/payments/sa/ledger"))
        #expect(message(result).contains("trust domain 'evil.example'"))
    }

    @Test func rejectsTwoURISANs() async throws {
        let (cert, key) = try pki.mint(uris: [id.uri, pki.id("other", "sa").uri])
        let result = await verify(try WorkloadCertificate(identity: id, chain: [cert], privateKey: key))
        #expect(message(result).contains("2 URI SANs"))
    }

    @Test func rejectsAnIdentityTheClientDoesNotExpect() async throws {
        let result = await verify(try pki.workloadCertificate(for: id), expected: [pki.id("payments", "api")])
        #expect(message(result).contains("expected to be one of [spiffe://cluster.local/ns/payments/sa/api]"))
    }

    @Test func rejectsAnEmptyChain() async {
        let result = await SpiffeVerifier(trustBundle: pki.trustBundle).verify(chain: [], expected: nil)
        #expect(message(result).contains("no certificate"))
    }
}
