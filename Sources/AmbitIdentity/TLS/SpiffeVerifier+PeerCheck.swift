import AmbitCore
import X509

extension SpiffeVerifier {
    /// This verifier as a TLS peer check over DER certificates (leaf first), the shape the
    /// control plane's gRPC TLS takes: the chain must prove a SPIFFE ID of the trust
    /// domain, and one of `expected` when given. Used by the control plane, the nodes and
    /// the CLI alike.
    public func peerCheck(expected: Set<SpiffeID>?) -> @Sendable (_ chainDER: [[UInt8]]) async throws -> Void {
        { der in
            let chain = try der.map { try Certificate(derEncoded: $0) }
            _ = try await self.verify(chain: chain, expected: expected).get()
        }
    }
}
