import AmbitCore
import NIOConcurrencyHelpers

/// The outcome of one handshake's peer verification, shared between the TLS verification
/// callback that fills it and the handlers that read it once the handshake is done (the
/// HBONE server hands `identity` to its authorization decision).
public final class VerifiedPeer: Sendable {
    private struct State {
        var identity: SpiffeID?
        var failure: IdentityError?
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// The verified SPIFFE ID, once the handshake has verified it.
    public var identity: SpiffeID? { state.withLockedValue { $0.identity } }
    /// Why verification failed, if it did; the handshake error itself is generic.
    public var failure: IdentityError? { state.withLockedValue { $0.failure } }

    func record(_ result: Result<SpiffeID, IdentityError>) {
        state.withLockedValue {
            switch result {
            case .success(let id): $0.identity = id
            case .failure(let error): $0.failure = error
            }
        }
    }
}
