import FoundationEssentials
import NIOSSL
import X509

/// The roots a mesh trusts, and the trust domain they speak for.
///
/// More than one root may be present: during a root rotation the old and the new root are
/// both trusted until every workload certificate has been re-issued under the new one.
public struct TrustBundle: Sendable, Hashable {
    public let trustDomain: String
    public let roots: [Certificate]

    public init(trustDomain: String, roots: [Certificate]) throws(IdentityError) {
        guard !roots.isEmpty else {
            throw IdentityError(.configuration, "the trust bundle for '\(trustDomain)' holds no root certificate")
        }
        self.trustDomain = trustDomain
        self.roots = roots
    }

    /// Loads every certificate of a PEM file as a root.
    public init(trustDomain: String, pemFile path: String) throws(IdentityError) {
        try self.init(trustDomain: trustDomain, pem: try PEMFiles.read(path, what: "trust bundle"), source: path)
    }

    /// Every certificate of `pem` as a root; `source` names where the text came from in
    /// errors (a file, or the control plane's response).
    public init(trustDomain: String, pem: String, source: String) throws(IdentityError) {
        let roots: [Certificate]
        do {
            roots = try PEMFiles.certificates(fromPEM: pem)
        } catch {
            throw IdentityError(.file, "trust bundle \(source) is not a PEM certificate list: \(error)")
        }
        try self.init(trustDomain: trustDomain, roots: roots)
    }

    /// Writes the roots as PEM (atomically; public, 0644).
    public func write(to path: String) throws {
        try PEMFiles.write(try pemString(), to: path, mode: 0o644)
    }

    public func pemString() throws -> String {
        try roots.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
    }

    /// The roots as BoringSSL wants them; handed to every context so that the system store
    /// is never consulted.
    func nioRoots() throws -> [NIOSSLCertificate] {
        var der = DER.Serializer()
        return try roots.map { root in
            der = DER.Serializer()
            try der.serialize(root)
            return try NIOSSLCertificate(bytes: der.serializedBytes, format: .der)
        }
    }
}

import SwiftASN1
