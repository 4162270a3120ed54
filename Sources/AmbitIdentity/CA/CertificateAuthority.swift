import AmbitCore
import Crypto
import FoundationEssentials
import SwiftASN1
import X509

/// The mesh certificate authority.
///
/// It either creates a self-signed root in its data directory on first start, or loads a
/// root or intermediate the operator provides (Istio's "plug-in CA" file names, so an
/// operator's existing tooling carries over):
///
/// | file            | what                                                      |
/// |-----------------|-----------------------------------------------------------|
/// | `ca-cert.pem`   | the signing certificate (root or intermediate)            |
/// | `ca-key.pem`    | its private key (written 0600)                            |
/// | `cert-chain.pem`| the signing certificate and its parents up to the root     |
/// | `root-cert.pem` | the root(s) every workload trusts: the trust bundle       |
///
/// It signs a CSR only for exactly the SPIFFE ID in the CSR's one URI SAN, and only if the
/// `authorize` check the caller passes agrees: the control plane plugs in "this node has a
/// workload with that service account", the file mode plugs in "anything in the file".
public final class CertificateAuthority: Sendable {
    public struct Options: Sendable {
        /// Lifetime of workload certificates unless the request asks for less.
        public var defaultTTL: Double = 24 * 3600
        /// The longest lifetime a request may ask for.
        public var maximumTTL: Double = 7 * 24 * 3600
        /// notBefore is set this far in the past so that a peer whose clock lags a little
        /// does not reject a certificate that was just issued.
        public var backdate: Double = 5 * 60
        /// Lifetime of a root the CA creates itself.
        public var rootTTL: Double = 10 * 365 * 24 * 3600
        public init() {}
    }

    public let trustDomain: String
    public let trustBundle: TrustBundle
    public let options: Options
    private let signingCertificate: Certificate
    private let signingKey: P256.Signing.PrivateKey
    /// Certificates between the signing certificate (included) and the root (excluded);
    /// empty when the CA signs with the root itself.
    private let intermediates: [Certificate]
    private let clock: any WallClock

    init(
        trustDomain: String, signingCertificate: Certificate, signingKey: P256.Signing.PrivateKey,
        intermediates: [Certificate], trustBundle: TrustBundle, options: Options, clock: any WallClock
    ) {
        self.trustDomain = trustDomain
        self.signingCertificate = signingCertificate
        self.signingKey = signingKey
        self.intermediates = intermediates
        self.trustBundle = trustBundle
        self.options = options
        self.clock = clock
    }

    // MARK: - Creating and loading

    /// Creates a new self-signed root in memory.
    public static func createRoot(
        trustDomain: String, options: Options = .init(), clock: any WallClock = SystemWallClock()
    ) throws -> CertificateAuthority {
        try validate(trustDomain: trustDomain)
        let key = P256.Signing.PrivateKey()
        let now = clock.now()
        let name = try DistinguishedName {
            OrganizationName("Ambit")
            CommonName("Ambit mesh root CA (\(trustDomain))")
        }
        let publicKey = Certificate.PublicKey(key.publicKey)
        let root = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: publicKey,
            notValidBefore: Date(timeIntervalSince1970: now - options.backdate),
            notValidAfter: Date(timeIntervalSince1970: now + options.rootTTL),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: .init(key))
        return CertificateAuthority(
            trustDomain: trustDomain, signingCertificate: root, signingKey: key, intermediates: [],
            trustBundle: try TrustBundle(trustDomain: trustDomain, roots: [root]), options: options, clock: clock)
    }

    /// Loads the CA from `directory`, creating a root there on first start.
    public static func loadOrCreate(
        directory: String, trustDomain: String, options: Options = .init(), clock: any WallClock = SystemWallClock()
    ) throws -> CertificateAuthority {
        let certPath = directory + "/ca-cert.pem"
        if FileManager.default.fileExists(atPath: certPath) {
            return try load(directory: directory, trustDomain: trustDomain, options: options, clock: clock)
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw IdentityError(.file, "cannot create the CA directory \(directory): \(error)")
        }
        let ca = try createRoot(trustDomain: trustDomain, options: options, clock: clock)
        let rootPEM = try ca.signingCertificate.serializeAsPEM().pemString + "\n"
        // Key first: a directory with a certificate and no key must never be read as a CA.
        try PEMFiles.write(ca.signingKey.pemRepresentation + "\n", to: directory + "/ca-key.pem", mode: 0o600)
        try PEMFiles.write(rootPEM, to: directory + "/root-cert.pem", mode: 0o644)
        try PEMFiles.write(rootPEM, to: directory + "/cert-chain.pem", mode: 0o644)
        try PEMFiles.write(rootPEM, to: certPath, mode: 0o644)
        return ca
    }

    /// Loads a root or an intermediate the operator provides (see the table above).
    /// `cert-chain.pem` is optional for a root.
    public static func load(
        directory: String, trustDomain: String, options: Options = .init(), clock: any WallClock = SystemWallClock()
    ) throws -> CertificateAuthority {
        try validate(trustDomain: trustDomain)
        let certPEM = try PEMFiles.read(directory + "/ca-cert.pem", what: "CA certificate")
        let keyPEM = try PEMFiles.read(directory + "/ca-key.pem", what: "CA private key")
        let rootPEM = try PEMFiles.read(directory + "/root-cert.pem", what: "root certificate (trust bundle)")
        let chainPath = directory + "/cert-chain.pem"
        let chainPEM = FileManager.default.fileExists(atPath: chainPath)
            ? try PEMFiles.read(chainPath, what: "CA certificate chain") : certPEM

        guard let signing = try PEMFiles.certificates(fromPEM: certPEM).first else {
            throw IdentityError(.file, "\(directory)/ca-cert.pem holds no certificate")
        }
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM) } catch {
            throw IdentityError(
                .file, "\(directory)/ca-key.pem is not an ECDSA P-256 private key in PEM (Ambit's CA signs with P-256): \(error)")
        }
        guard signing.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw IdentityError(.file, "\(directory)/ca-key.pem does not match \(directory)/ca-cert.pem")
        }
        guard case .isCertificateAuthority? = try? signing.extensions.basicConstraints else {
            throw IdentityError(.file, "\(directory)/ca-cert.pem is not a CA certificate (basicConstraints CA:TRUE is missing)")
        }
        let roots = try PEMFiles.certificates(fromPEM: rootPEM)
        let bundle = try TrustBundle(trustDomain: trustDomain, roots: roots)
        // The chain sent to peers: the signing certificate and its parents, roots left out
        // (peers have those already, in their trust bundle).
        var intermediates = try PEMFiles.certificates(fromPEM: chainPEM).filter { !roots.contains($0) }
        intermediates.removeAll { $0 == signing }
        if !roots.contains(signing) { intermediates.insert(signing, at: 0) }
        return CertificateAuthority(
            trustDomain: trustDomain, signingCertificate: signing, signingKey: key, intermediates: intermediates,
            trustBundle: bundle, options: options, clock: clock)
    }

    static func validate(trustDomain: String) throws(IdentityError) {
        // Reuse SpiffeID's trust-domain rules so the CA can never issue an unparseable ID.
        do { _ = try SpiffeID(trustDomain: trustDomain, namespace: "x", serviceAccount: "x") } catch {
            throw IdentityError(
                .configuration,
                "the trust domain '\(trustDomain)' is not valid: use lower-case letters, digits, '.', '-' and '_' (for example cluster.local)")
        }
    }

    // MARK: - Signing

    /// Signs `csr` for the one SPIFFE ID in its URI SAN.
    ///
    /// - Parameters:
    ///   - ttl: requested lifetime; `nil` means `options.defaultTTL`. Capped at
    ///     `options.maximumTTL` and at the CA's own expiry.
    ///   - authorize: throws if the caller may not have the identity. Its error is what the
    ///     caller sees, so it should name who asked for what.
    /// - Returns: the leaf followed by the CA's intermediates (no root).
    public func sign(
        _ csr: CertificateSigningRequest, ttl: Double? = nil,
        authorize: @Sendable (SpiffeID) async throws -> Void
    ) async throws -> [Certificate] {
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw IdentityError(.invalidCSR, "the CSR's signature does not verify; the request was altered or built with the wrong key")
        }
        guard let key = P256.Signing.PublicKey(csr.publicKey) else {
            throw IdentityError(.invalidCSR, "the CSR's key is not ECDSA P-256, the only key type Ambit issues for")
        }
        let identity = try requestedIdentity(in: csr)
        guard identity.trustDomain == trustDomain else {
            throw IdentityError(
                .unauthorized, "the CSR asks for \(identity), outside this CA's trust domain '\(trustDomain)'")
        }
        try await authorize(identity)
        let lifetime = min(ttl ?? options.defaultTTL, options.maximumTTL)
        guard lifetime > 0 else { throw IdentityError(.invalidCSR, "a certificate lifetime must be positive, got \(lifetime) s") }
        let leaf = try issue(identity: identity, publicKey: .init(key), lifetime: lifetime)
        return [leaf] + intermediates
    }

    /// Reads the one SPIFFE ID a CSR asks for. Any other SAN (DNS, IP, e-mail, a second URI)
    /// makes the whole request invalid: the CA issues identities, not whatever is asked.
    func requestedIdentity(in csr: CertificateSigningRequest) throws -> SpiffeID {
        let extensions: Certificate.Extensions?
        do { extensions = try csr.attributes.extensionRequest?.extensions } catch {
            throw IdentityError(.invalidCSR, "the CSR's extension request is malformed: \(error)")
        }
        guard let extensions, let sans = try extensions.subjectAlternativeNames, !sans.isEmpty else {
            throw IdentityError(.invalidCSR, "the CSR carries no SubjectAlternativeName; it must carry exactly one SPIFFE URI")
        }
        guard sans.count == 1, case .uniformResourceIdentifier(let uri) = sans.first! else {
            throw IdentityError(
                .invalidCSR, "the CSR carries \(sans.count) SANs (\(sans.map { "\($0)" }.joined(separator: ", "))); it must carry exactly one SPIFFE URI")
        }
        do { return try SpiffeID(parsing: uri) } catch {
            throw IdentityError(.invalidCSR, "the CSR's URI SAN is not a workload identity: \(error.message)")
        }
    }

    private func issue(identity: SpiffeID, publicKey: Certificate.PublicKey, lifetime: Double) throws -> Certificate {
        let now = clock.now()
        let caExpiry = signingCertificate.notValidAfter.timeIntervalSince1970
        let notAfter = min(now + lifetime, caExpiry)
        guard notAfter > now else {
            throw IdentityError(.unavailable, "the CA certificate expired at \(signingCertificate.notValidAfter); rotate the CA (docs/identity.md)")
        }
        let issuerSKI = try signingCertificate.extensions.subjectKeyIdentifier?.keyIdentifier
            ?? SubjectKeyIdentifier(hash: signingCertificate.publicKey).keyIdentifier
        return try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: publicKey,
            notValidBefore: Date(timeIntervalSince1970: now - options.backdate),
            notValidAfter: Date(timeIntervalSince1970: notAfter),
            issuer: signingCertificate.subject,
            // SPIFFE X.509-SVIDs identify by SAN; the subject is informational only.
            subject: try DistinguishedName { OrganizationName("Ambit") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                // ECDSA keys sign; keyEncipherment is for RSA key transport (RFC 5480).
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                AuthorityKeyIdentifier(keyIdentifier: issuerSKI)
                SubjectKeyIdentifier(hash: publicKey)
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(identity.uri)]))
            },
            issuerPrivateKey: .init(signingKey))
    }
}
