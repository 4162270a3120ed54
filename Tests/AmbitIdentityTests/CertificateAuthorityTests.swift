import AmbitCore
import AmbitTesting
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

@testable import AmbitIdentity

struct CertificateAuthorityTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI() }

    @Test func signsACSRForExactlyTheRequestedIdentity() async throws {
        let ca = try pki.authority()
        let id = pki.id("payments", "ledger")
        let (csr, key) = try CSRBuilder.make(for: id)
        let chain = try await ca.sign(csr) { _ in }
        let cert = try WorkloadCertificate(identity: id, chain: chain, privateKey: key)
        #expect(try SpiffeSAN.identity(of: cert.leaf) == id)
        #expect(try cert.leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(cert.leaf.issuer == pki.root.subject)
        // 24 h by default, backdated 5 minutes for clock skew.
        let now = pki.clock.now()
        #expect(abs(cert.notAfter - (now + 86400)) < 5)
        #expect(abs(cert.notBefore - (now - 300)) < 5)
        let verified = await SpiffeVerifier(trustBundle: pki.trustBundle).verify(chain: chain, expected: [id])
        #expect(try verified.get() == id)
    }

    @Test func honoursTheRequestedTTLUpToTheMaximum() async throws {
        var options = CertificateAuthority.Options()
        options.maximumTTL = 3600
        let ca = try pki.authority(options: options)
        let (csr, _) = try CSRBuilder.make(for: pki.id("a", "b"))
        let short = try await ca.sign(csr, ttl: 600) { _ in }
        #expect(abs(short[0].notValidAfter.timeIntervalSince1970 - (pki.clock.now() + 600)) < 5)
        let capped = try await ca.sign(csr, ttl: 999_999) { _ in }
        #expect(abs(capped[0].notValidAfter.timeIntervalSince1970 - (pki.clock.now() + 3600)) < 5)
    }

    @Test func refusesAnIdentityTheCallerIsNotAuthorisedFor() async throws {
        let ca = try pki.authority()
        let (csr, _) = try CSRBuilder.make(for: pki.id("payments", "ledger"))
        struct NotOnThisNode: Error {}
        await #expect(throws: NotOnThisNode.self) {
            _ = try await ca.sign(csr) { id in
                if id.namespace == "payments" { throw NotOnThisNode() }
            }
        }
    }

    @Test func refusesAnIdentityOutsideItsTrustDomain() async throws {
        let ca = try pki.authority()
        let foreign = try SpiffeID(parsing: "spiffe://other.example/ns/a/sa/b")
        let (csr, _) = try CSRBuilder.make(for: foreign)
        await expectIdentityError(.unauthorized, containing: "outside this CA's trust domain") {
            _ = try await ca.sign(csr) { _ in }
        }
    }

    @Test(arguments: [
        [GeneralName.dnsName("ledger.payments.svc")],
        [GeneralName.uniformResourceIdentifier("spiffe://cluster.local/ns/a/sa/b"), .dnsName("x")],
        [GeneralName.uniformResourceIdentifier("spiffe://cluster.local/ns/a/sa/b"), .uniformResourceIdentifier("spiffe://cluster.local/ns/c/sa/d")],
        [GeneralName.uniformResourceIdentifier("https://cluster.local/ns/a/sa/b")],
    ])
    func refusesACSRWhoseSANsAreNotExactlyOneSPIFFEID(_ sans: [GeneralName]) async throws {
        let ca = try pki.authority()
        let key = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("x") }, privateKey: .init(key),
            attributes: try .init([.init(ExtensionRequest(extensions: try Certificate.Extensions { SubjectAlternativeNames(sans) }))]),
            signatureAlgorithm: .ecdsaWithSHA256)
        await expectIdentityError(.invalidCSR, containing: "CSR") { _ = try await ca.sign(csr) { _ in } }
    }

    @Test func refusesACSRWithoutSAN() async throws {
        let ca = try pki.authority()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("x") }, privateKey: .init(P256.Signing.PrivateKey()),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        await expectIdentityError(.invalidCSR, containing: "no SubjectAlternativeName") { _ = try await ca.sign(csr) { _ in } }
    }

    @Test func refusesACSRWhoseSignatureDoesNotVerify() async throws {
        let ca = try pki.authority()
        let (good, _) = try CSRBuilder.make(for: pki.id("a", "b"))
        // Same request body, signature made with a different key.
        let other = P256.Signing.PrivateKey()
        let forged = try CertificateSigningRequest(
            version: good.version, subject: good.subject, publicKey: good.publicKey, attributes: good.attributes,
            signatureAlgorithm: .ecdsaWithSHA256,
            signature: try Certificate.PrivateKey(other).sign(bytes: [1, 2, 3], signatureAlgorithm: .ecdsaWithSHA256))
        await expectIdentityError(.invalidCSR, containing: "signature does not verify") { _ = try await ca.sign(forged) { _ in } }
    }

    @Test func createsARootWithAPrivateKeyFileAndLoadsItAgain() throws {
        let dir = NSTemporaryDirectory() + "ambit-ca-\(UUID().uuidString)"
        let first = try CertificateAuthority.loadOrCreate(directory: dir, trustDomain: "cluster.local")
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/ca-key.pem")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        for file in ["ca-cert.pem", "root-cert.pem", "cert-chain.pem"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/" + file))
        }
        let again = try CertificateAuthority.loadOrCreate(directory: dir, trustDomain: "cluster.local")
        #expect(again.trustBundle.roots == first.trustBundle.roots, "a second start keeps the same root")
    }

    @Test func loadsAnIntermediateAndServesItsChain() async throws {
        // Operator-provided intermediate under the test root.
        let interKey = P256.Signing.PrivateKey()
        let now = pki.clock.now()
        let intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(interKey.publicKey),
            notValidBefore: Date(timeIntervalSince1970: now - 60), notValidAfter: Date(timeIntervalSince1970: now + 86400 * 30),
            issuer: pki.root.subject, subject: try DistinguishedName { CommonName("Ambit intermediate") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(interKey.publicKey))
            },
            issuerPrivateKey: .init(pki.rootKey))
        let dir = NSTemporaryDirectory() + "ambit-inter-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let interPEM = try intermediate.serializeAsPEM().pemString + "\n"
        let rootPEM = try pki.root.serializeAsPEM().pemString + "\n"
        try interPEM.write(toFile: dir + "/ca-cert.pem", atomically: true, encoding: .utf8)
        try (interKey.pemRepresentation + "\n").write(toFile: dir + "/ca-key.pem", atomically: true, encoding: .utf8)
        try rootPEM.write(toFile: dir + "/root-cert.pem", atomically: true, encoding: .utf8)
        try (interPEM + rootPEM).write(toFile: dir + "/cert-chain.pem", atomically: true, encoding: .utf8)

        let ca = try CertificateAuthority.load(directory: dir, trustDomain: pki.trustDomain)
        let id = pki.id("a", "b")
        let (csr, _) = try CSRBuilder.make(for: id)
        let chain = try await ca.sign(csr) { _ in }
        #expect(chain.count == 2, "leaf + intermediate, never the root")
        #expect(chain[1] == intermediate)
        let verified = await SpiffeVerifier(trustBundle: pki.trustBundle).verify(chain: chain, expected: [id])
        #expect(try verified.get() == id)
    }

    @Test func refusesAKeyThatDoesNotMatchTheCertificate() throws {
        let dir = NSTemporaryDirectory() + "ambit-mismatch-\(UUID().uuidString)"
        _ = try CertificateAuthority.loadOrCreate(directory: dir, trustDomain: "cluster.local")
        try (P256.Signing.PrivateKey().pemRepresentation + "\n").write(toFile: dir + "/ca-key.pem", atomically: true, encoding: .utf8)
        #expect(throws: IdentityError.self) { try CertificateAuthority.load(directory: dir, trustDomain: "cluster.local") }
    }

    @Test func rejectsAnInvalidTrustDomainWithAnIdentityError() {
        #expect(throws: IdentityError.self) { try CertificateAuthority.createRoot(trustDomain: "Cluster.Local") }
    }
}

func expectIdentityError(
    _ code: IdentityError.Code, containing text: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected an IdentityError(\(code))", sourceLocation: sourceLocation)
    } catch let error as IdentityError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected an IdentityError, got \(error)", sourceLocation: sourceLocation)
    }
}
