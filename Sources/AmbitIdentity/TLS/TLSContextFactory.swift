import AmbitCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import X509

/// Builds the TLS side of every mesh connection.
///
/// - TLS 1.3 only, ALPN `h2` only, mutual authentication always.
/// - Trust roots are the mesh trust bundle, given explicitly: the system store is never read.
/// - Hostname checks are replaced by `SpiffeVerifier`; a client additionally names the
///   identities it expects the server to prove.
/// - Contexts are cached per identity and dropped when the certificate manager rotates that
///   identity's certificate. Connections already open keep the context they were made
///   with, so rotation never drops a connection.
public final class TLSContextFactory: Sendable {
    private enum Role: Hashable { case server, client }
    private struct Key: Hashable {
        let role: Role
        let identity: SpiffeID
    }

    public let certificates: CertificateManager
    private let bundle: NIOLockedValueBox<TrustBundle>
    private let cache = NIOLockedValueBox<Cache>(Cache())

    /// Contexts, plus a generation per identity that every certificate change bumps, so a
    /// context built from a certificate that was replaced meanwhile is not cached.
    private struct Cache {
        var contexts: [Key: NIOSSLContext] = [:]
        var generations: [SpiffeID: Int] = [:]
    }
    private let clock: any WallClock
    private let logger: Logger

    public static let alpn = "h2"

    public init(
        certificates: CertificateManager, trustBundle: TrustBundle, clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "ambit.tls")
    ) async {
        self.certificates = certificates
        self.bundle = NIOLockedValueBox(trustBundle)
        self.clock = clock
        self.logger = logger
        await certificates.onChange { [cache] identity in
            cache.withLockedValue { cache in
                cache.contexts[Key(role: .server, identity: identity)] = nil
                cache.contexts[Key(role: .client, identity: identity)] = nil
                cache.generations[identity, default: 0] += 1
            }
        }
    }

    public var trustBundle: TrustBundle { bundle.withLockedValue { $0 } }

    /// Replaces the trust bundle (root rotation). New connections verify against it.
    public func updateTrustBundle(_ newBundle: TrustBundle) {
        bundle.withLockedValue { $0 = newBundle }
        cache.withLockedValue { $0.contexts.removeAll() }
    }

    public var verifier: SpiffeVerifier { SpiffeVerifier(trustBundle: trustBundle, clock: clock) }

    // MARK: - Contexts

    /// The server context presenting `identity`'s certificate, without waiting when cached.
    public func cachedServerContext(for identity: SpiffeID) -> NIOSSLContext? {
        cache.withLockedValue { $0.contexts[Key(role: .server, identity: identity)] }
    }

    public func cachedClientContext(for identity: SpiffeID) -> NIOSSLContext? {
        cache.withLockedValue { $0.contexts[Key(role: .client, identity: identity)] }
    }

    public func serverContext(for identity: SpiffeID) async throws -> NIOSSLContext {
        try await context(Key(role: .server, identity: identity))
    }

    public func clientContext(for identity: SpiffeID) async throws -> NIOSSLContext {
        try await context(Key(role: .client, identity: identity))
    }

    private func context(_ key: Key) async throws -> NIOSSLContext {
        let (hit, generation) = cache.withLockedValue { ($0.contexts[key], $0.generations[key.identity, default: 0]) }
        if let hit { return hit }
        let cert = try await certificates.certificate(for: key.identity)
        var config: TLSConfiguration
        switch key.role {
        case .server:
            config = .makeServerConfiguration(certificateChain: try cert.nioChain(), privateKey: try cert.nioPrivateKey())
        case .client:
            config = .makeClientConfiguration()
            config.certificateChain = try cert.nioChain()
            config.privateKey = try cert.nioPrivateKey()
        }
        config.minimumTLSVersion = .tlsv13
        config.maximumTLSVersion = .tlsv13
        config.applicationProtocols = [Self.alpn]
        // Explicit roots, never the system store. Verification itself is SpiffeVerifier's,
        // through the custom callback; the roots are set so that nothing falls back to the
        // system store.
        config.trustRoots = .certificates(try trustBundle.nioRoots())
        config.certificateVerification = .noHostnameVerification
        let context = try NIOSSLContext(configuration: config)
        // Cache only if no certificate change happened while we were building.
        cache.withLockedValue { cache in
            if cache.generations[key.identity, default: 0] == generation { cache.contexts[key] = context }
        }
        return context
    }

    // MARK: - Handlers

    /// The TLS server handler for one accepted connection, plus the box the verified client
    /// identity lands in.
    public func makeServerHandler(context: NIOSSLContext) -> (NIOSSLServerHandler, VerifiedPeer) {
        let peer = VerifiedPeer()
        let verifier = self.verifier
        let handler = NIOSSLServerHandler(context: context) { certificates, promise in
            Self.verify(certificates, expected: nil, verifier: verifier, peer: peer, promise: promise)
        }
        return (handler, peer)
    }

    /// The TLS client handler for one outgoing connection that must reach one of `expected`.
    public func makeClientHandler(
        context: NIOSSLContext, expected: Set<SpiffeID>
    ) throws -> (NIOSSLClientHandler, VerifiedPeer) {
        let peer = VerifiedPeer()
        let verifier = self.verifier
        let handler = try NIOSSLClientHandler(context: context, serverHostname: nil) { certificates, promise in
            Self.verify(certificates, expected: expected, verifier: verifier, peer: peer, promise: promise)
        }
        return (handler, peer)
    }

    private static func verify(
        _ certificates: [NIOSSLCertificate], expected: Set<SpiffeID>?, verifier: SpiffeVerifier, peer: VerifiedPeer,
        promise: EventLoopPromise<NIOSSLVerificationResultWithMetadata>
    ) {
        let chain: [Certificate]
        do {
            chain = try certificates.map { try Certificate(derEncoded: try $0.toDERBytes()) }
        } catch {
            peer.record(.failure(IdentityError(.verification, "the peer's certificate cannot be parsed: \(error)")))
            promise.succeed(.failed)
            return
        }
        promise.completeWithTask {
            let result = await verifier.verify(chain: chain, expected: expected)
            peer.record(result)
            switch result {
            case .success: return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(certificates)))
            case .failure: return .failed
            }
        }
    }
}
