import Crypto
import FoundationEssentials
import NIOSSL
import SwiftASN1
import X509
import AmbitCore

/// A certificate that proves one workload identity: the leaf, the intermediates that link
/// it to the mesh root (never the root itself), and the private key.
public struct WorkloadCertificate: Sendable {
    /// The key type of every mesh certificate (ECDSA P-256), named here so that modules
    /// holding keys need not import Crypto themselves.
    public typealias PrivateKey = P256.Signing.PrivateKey

    public let identity: SpiffeID
    /// Leaf first, then intermediates in order. The root is not sent to peers.
    public let chain: [Certificate]
    public let privateKey: P256.Signing.PrivateKey

    public init(identity: SpiffeID, chain: [Certificate], privateKey: P256.Signing.PrivateKey) throws(IdentityError) {
        guard let leaf = chain.first else {
            throw IdentityError(.configuration, "a certificate chain for \(identity) is empty")
        }
        guard leaf.publicKey == Certificate.PublicKey(privateKey.publicKey) else {
            throw IdentityError(.configuration, "the private key does not match the certificate for \(identity)")
        }
        self.identity = identity
        self.chain = chain
        self.privateKey = privateKey
    }

    public var leaf: Certificate { chain[0] }
    /// Seconds since the epoch.
    public var notBefore: Double { leaf.notValidBefore.timeIntervalSince1970 }
    public var notAfter: Double { leaf.notValidAfter.timeIntervalSince1970 }
    /// Hex serial number, as `/certs` and logs show it.
    public var serial: String { hexString(leaf.serialNumber.bytes) }

    public func chainPEM() throws -> String {
        try chain.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
    }

    public var privateKeyPEM: String { privateKey.pemRepresentation }

    func nioChain() throws -> [NIOSSLCertificateSource] {
        try chain.map { cert in
            var der = DER.Serializer()
            try der.serialize(cert)
            return .certificate(try NIOSSLCertificate(bytes: der.serializedBytes, format: .der))
        }
    }

    func nioPrivateKey() throws -> NIOSSLPrivateKeySource {
        .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKey.derRepresentation), format: .der))
    }

    /// A chain received as PEM (leaf first) for a key this process holds; the identity is
    /// the leaf's SPIFFE ID. What a node does with the control plane's answer to its CSR.
    public init(chainPEM: String, privateKey: P256.Signing.PrivateKey) throws(IdentityError) {
        let chain: [Certificate]
        do { chain = try PEMFiles.certificates(fromPEM: chainPEM) } catch {
            throw IdentityError(.verification, "the certificate chain is not PEM: \(error)")
        }
        guard let leaf = chain.first else { throw IdentityError(.verification, "the certificate chain is empty") }
        try self.init(identity: try SpiffeSAN.identity(of: leaf), chain: chain, privateKey: privateKey)
    }

    /// Loads a certificate chain and key written as PEM (the files `ambit dev-ca issue`
    /// writes, or those of any external CA that issues SPIFFE certificates).
    public static func load(certificateFile: String, keyFile: String) throws(IdentityError) -> WorkloadCertificate {
        let certPEM = try PEMFiles.read(certificateFile, what: "certificate chain")
        let keyPEM = try PEMFiles.read(keyFile, what: "private key")
        let chain: [Certificate]
        do { chain = try PEMFiles.certificates(fromPEM: certPEM) } catch {
            throw IdentityError(.file, "\(certificateFile) is not a PEM certificate chain: \(error)")
        }
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM) } catch {
            throw IdentityError(.file, "\(keyFile) is not an ECDSA P-256 private key in PEM: \(error)")
        }
        guard let leaf = chain.first else {
            throw IdentityError(.file, "\(certificateFile) holds no certificate")
        }
        let identity: SpiffeID
        do { identity = try SpiffeSAN.identity(of: leaf) } catch {
            throw IdentityError(.file, "\(certificateFile): \(error.message)")
        }
        return try WorkloadCertificate(identity: identity, chain: chain, privateKey: key)
    }
}

extension WorkloadCertificate {
    /// Writes the chain (leaf first) and the key (0600) as PEM.
    public func write(certificateFile: String, keyFile: String) throws {
        try PEMFiles.write(privateKeyPEM + "\n", to: keyFile, mode: 0o600)
        try PEMFiles.write(try chainPEM(), to: certificateFile, mode: 0o644)
    }
}
