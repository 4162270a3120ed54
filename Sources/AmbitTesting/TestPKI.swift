import AmbitCore
import AmbitIdentity
import Crypto
import Foundation
import X509

/// A throwaway mesh PKI for tests: a root whose key the test holds, so it can mint both
/// the certificates the real CA would issue and the ones it never would (expired, foreign
/// trust domain, two SANs), plus the real `CertificateAuthority` loaded from the same root.
public struct TestPKI: Sendable {
    public let trustDomain: String
    public let rootKey: P256.Signing.PrivateKey
    public let root: Certificate
    public let directory: String
    public let clock: any WallClock

    public init(trustDomain: String = "cluster.local", clock: any WallClock = SystemWallClock()) throws {
        self.trustDomain = trustDomain
        self.clock = clock
        let rootKey = P256.Signing.PrivateKey()
        self.rootKey = rootKey
        let now = clock.now()
        let name = try DistinguishedName { CommonName("Ambit test root \(UUID().uuidString.prefix(8))") }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey),
            notValidBefore: Date(timeIntervalSince1970: now - 3600),
            notValidAfter: Date(timeIntervalSince1970: now + 10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(rootKey.publicKey))
            },
            issuerPrivateKey: .init(rootKey))
        let root = self.root
        directory = NSTemporaryDirectory() + "ambit-pki-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let rootPEM = try root.serializeAsPEM().pemString + "\n"
        try rootPEM.write(toFile: directory + "/ca-cert.pem", atomically: true, encoding: .utf8)
        try rootPEM.write(toFile: directory + "/root-cert.pem", atomically: true, encoding: .utf8)
        try (rootKey.pemRepresentation + "\n").write(toFile: directory + "/ca-key.pem", atomically: true, encoding: .utf8)
    }

    public var trustBundle: TrustBundle { try! TrustBundle(trustDomain: trustDomain, roots: [root]) }

    /// The real CA, signing with this root.
    public func authority(options: CertificateAuthority.Options = .init()) throws -> CertificateAuthority {
        try CertificateAuthority.load(directory: directory, trustDomain: trustDomain, options: options, clock: clock)
    }

    public func id(_ namespace: String, _ serviceAccount: String) -> SpiffeID {
        try! SpiffeID(trustDomain: trustDomain, namespace: namespace, serviceAccount: serviceAccount)
    }

    /// A leaf with exactly the properties asked for, signed by this root.
    public func mint(
        uris: [String], notBefore: Double? = nil, notAfter: Double? = nil, key: P256.Signing.PrivateKey = .init()
    ) throws -> (Certificate, P256.Signing.PrivateKey) {
        let now = clock.now()
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: Date(timeIntervalSince1970: notBefore ?? now - 60),
            notValidAfter: Date(timeIntervalSince1970: notAfter ?? now + 3600),
            issuer: root.subject, subject: try DistinguishedName { OrganizationName("test") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(uris.map { .uniformResourceIdentifier($0) })
            },
            issuerPrivateKey: .init(rootKey))
        return (cert, key)
    }

    /// A workload certificate for `identity`, optionally with odd validity; the SAN may be
    /// overridden to forge one the CA would refuse.
    public func workloadCertificate(
        for identity: SpiffeID, uri: String? = nil, notBefore: Double? = nil, notAfter: Double? = nil
    ) throws -> WorkloadCertificate {
        let (cert, key) = try mint(uris: [uri ?? identity.uri], notBefore: notBefore, notAfter: notAfter)
        return try WorkloadCertificate(identity: identity, chain: [cert], privateKey: key)
    }
}

/// Serves fixed certificates; counts fetches.
public final class StaticCertificateProvider: CertificateProvider {
    private let certificates: [SpiffeID: WorkloadCertificate]

    public init(_ certificates: [WorkloadCertificate]) {
        var map: [SpiffeID: WorkloadCertificate] = [:]
        for c in certificates { map[c.identity] = c }
        self.certificates = map
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        guard let cert = certificates[identity] else {
            throw TestFailure("the static provider has no certificate for \(identity)")
        }
        return cert
    }
}

extension TestPKI {
    /// A TLS factory whose identities get real CA-issued certificates on demand.
    public func tlsFactory() async throws -> TLSContextFactory {
        let manager = CertificateManager(provider: LocalCAProvider(ca: try authority()), clock: clock)
        return await TLSContextFactory(certificates: manager, trustBundle: trustBundle, clock: clock)
    }

    /// A TLS factory that presents exactly these certificates (possibly broken on purpose),
    /// verifying peers against `bundle` (this PKI's by default).
    public func tlsFactory(presenting certificates: [WorkloadCertificate], trusting bundle: TrustBundle? = nil) async -> TLSContextFactory {
        let manager = CertificateManager(provider: StaticCertificateProvider(certificates), clock: clock)
        return await TLSContextFactory(certificates: manager, trustBundle: bundle ?? trustBundle, clock: clock)
    }
}
