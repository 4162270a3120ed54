import AmbitCore
import Crypto
import X509

/// Builds the CSR a workload-side process sends to the CA: a fresh P-256 key that never
/// leaves the process, and one URI SAN naming the identity it asks for.
public enum CSRBuilder {
    public static func make(for identity: SpiffeID) throws -> (CertificateSigningRequest, P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames([.uniformResourceIdentifier(identity.uri)])
        }
        let csr = try CertificateSigningRequest(
            version: .v1,
            subject: try DistinguishedName { OrganizationName("Ambit") },
            privateKey: .init(key),
            attributes: try .init([.init(ExtensionRequest(extensions: extensions))]),
            signatureAlgorithm: .ecdsaWithSHA256)
        return (csr, key)
    }
}
