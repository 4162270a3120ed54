import AmbitCore

/// Where the certificate manager gets certificates from. The node's file mode signs CSRs
/// with a local CA; with a control plane the same call becomes a CSR over gRPC.
public protocol CertificateProvider: Sendable {
    func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate
}

/// Issues certificates from an in-process CA through a real CSR, so the key never leaves
/// this process and the CA's checks run exactly as they would remotely.
public struct LocalCAProvider: CertificateProvider {
    public let ca: CertificateAuthority
    public let ttl: Double?
    private let authorize: @Sendable (SpiffeID) async throws -> Void

    public init(
        ca: CertificateAuthority, ttl: Double? = nil,
        authorize: @escaping @Sendable (SpiffeID) async throws -> Void = { _ in }
    ) {
        self.ca = ca
        self.ttl = ttl
        self.authorize = authorize
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        let (csr, key) = try CSRBuilder.make(for: identity)
        let chain = try await ca.sign(csr, ttl: ttl, authorize: authorize)
        return try WorkloadCertificate(identity: identity, chain: chain, privateKey: key)
    }
}

/// Serves certificates from PEM files, re-read at every fetch so that a certificate
/// rotated on disk (by cert-manager, an operator or `ambit dev-ca issue`) is picked up at
/// the next renewal without a restart.
public struct FileCertificateProvider: CertificateProvider {
    public let files: [SpiffeID: (certificate: String, key: String)]

    public init(files: [SpiffeID: (certificate: String, key: String)]) {
        self.files = files
    }

    public func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        guard let paths = files[identity] else {
            throw IdentityError(.unavailable, "no certificate file is configured for \(identity)")
        }
        let cert = try WorkloadCertificate.load(certificateFile: paths.certificate, keyFile: paths.key)
        guard cert.identity == identity else {
            throw IdentityError(
                .unavailable, "\(paths.certificate) proves \(cert.identity), not \(identity); issue the right certificate")
        }
        return cert
    }
}
