import AmbitCore
import NIOCore
import NIOHPACK

/// The life of one CONNECT stream on the HBONE server, as a value that takes events and
/// returns the action to perform. The channel handler only performs actions, so every
/// ordering (data before the decision, the stream closing while dialling, a second HEADERS)
/// is tested here without I/O.
///
///     awaitingHead ──HEADERS──▶ deciding ──forward──▶ dialing ──connected──▶ established
///          │                       │ └──────terminate (served here)───────────────▶ ┘
///          │                       │                     │
///          └─bad HEADERS─▶ 400     └─deny/unknown─▶ 401/503/400   └─failed─▶ 503
struct ServerStreamStateMachine {
    enum State {
        case awaitingHead
        case deciding(ConnectRequest, Tunnel.Preface)
        case dialing(ConnectRequest, Tunnel.Preface)
        case established
        case finished
    }

    enum Action: Equatable {
        case none
        /// Ask the decision function about this request.
        case decide(ConnectRequestBox)
        /// Dial this address.
        case dial(SocketAddress)
        /// Send 200 and glue, writing the preface first.
        case establish(PrefaceBox)
        /// Send 200 and hand the stream to a local pipeline, preface first.
        case terminate(PrefaceBox, LocalStreamBox)
        /// Answer with an error status and end the stream.
        case respond(status: Int, reason: String)
        /// Reset the stream: the peer broke the protocol after we could no longer answer.
        case reset(reason: String)
        /// The peer went away mid-way: drop whatever is in progress.
        case abandon
    }

    /// Wrappers so that `Action` can be `Equatable` for tests without making the payloads so.
    struct ConnectRequestBox: Equatable {
        let request: ConnectRequest
        static func == (a: Self, b: Self) -> Bool { a.request.authority == b.request.authority }
    }

    struct LocalStreamBox: Equatable {
        let local: LocalStream
        static func == (a: Self, b: Self) -> Bool { true }
    }

    struct PrefaceBox: Equatable {
        let preface: Tunnel.Preface
        static func == (a: Self, b: Self) -> Bool { a.preface.count == b.preface.count && a.preface.ended == b.preface.ended }
    }

    private(set) var state: State = .awaitingHead
    let peer: SpiffeID
    let peerAddress: SocketAddress?
    /// The most the server holds for a stream before the tunnel exists. The stream window
    /// already bounds it; this makes the bound explicit and independent of settings.
    let maximumPreface: Int

    init(peer: SpiffeID, peerAddress: SocketAddress?, maximumPreface: Int = 4 * 1024 * 1024) {
        self.peer = peer
        self.peerAddress = peerAddress
        self.maximumPreface = maximumPreface
    }

    mutating func headersReceived(_ headers: HPACKHeaders, endStream: Bool) -> Action {
        switch state {
        case .awaitingHead:
            switch ConnectRequest.parse(headers, peer: peer, peerAddress: peerAddress) {
            case .failure(let error):
                state = .finished
                return .respond(status: 400, reason: error.message)
            case .success(let request):
                var preface = Tunnel.Preface()
                preface.ended = endStream
                state = .deciding(request, preface)
                return .decide(ConnectRequestBox(request: request))
            }
        case .deciding, .dialing:
            state = .finished
            return .respond(status: 400, reason: "a second HEADERS arrived before the tunnel was established")
        case .established, .finished:
            // Trailers after the tunnel exists are handled by the stream codec, not here.
            return .none
        }
    }

    mutating func dataReceived(_ bytes: ByteBuffer, endStream: Bool) -> Action {
        switch state {
        case .awaitingHead:
            state = .finished
            return .reset(reason: "DATA arrived before the CONNECT HEADERS")
        case .deciding(let request, var preface):
            if let overflow = buffer(bytes, endStream: endStream, into: &preface) { return overflow }
            state = .deciding(request, preface)
            return .none
        case .dialing(let request, var preface):
            if let overflow = buffer(bytes, endStream: endStream, into: &preface) { return overflow }
            state = .dialing(request, preface)
            return .none
        case .established, .finished:
            return .none
        }
    }

    private mutating func buffer(_ bytes: ByteBuffer, endStream: Bool, into preface: inout Tunnel.Preface) -> Action? {
        if preface.ended, bytes.readableBytes > 0 {
            state = .finished
            return .reset(reason: "DATA arrived after END_STREAM")
        }
        if bytes.readableBytes > 0 { preface.bytes.append(bytes) }
        preface.ended = preface.ended || endStream
        if preface.count > maximumPreface {
            state = .finished
            return .reset(reason: "more than \(maximumPreface) bytes arrived before the tunnel was established")
        }
        return nil
    }

    mutating func decided(_ decision: ConnectDecision) -> Action {
        guard case .deciding(let request, let preface) = state else { return .none }
        switch decision {
        case .forward(let address):
            state = .dialing(request, preface)
            return .dial(address)
        case .deny(let reason):
            state = .finished
            return .respond(status: 401, reason: reason)
        case .unavailable(let reason):
            state = .finished
            return .respond(status: 503, reason: reason)
        case .reject(let reason):
            state = .finished
            return .respond(status: 400, reason: reason)
        case .terminate(let local):
            state = .established
            return .terminate(PrefaceBox(preface: preface), LocalStreamBox(local: local))
        }
    }

    mutating func dialSucceeded() -> Action {
        guard case .dialing(_, let preface) = state else { return .abandon }
        state = .established
        return .establish(PrefaceBox(preface: preface))
    }

    mutating func dialFailed(_ error: any Error, address: SocketAddress) -> Action {
        guard case .dialing = state else { return .none }
        state = .finished
        return .respond(status: 503, reason: "cannot connect to \(address.hostPortText): \(error)")
    }

    /// The stream closed under us (peer reset, connection lost).
    mutating func streamClosed() -> Action {
        switch state {
        case .deciding, .dialing, .awaitingHead:
            state = .finished
            return .abandon
        case .established, .finished:
            state = .finished
            return .none
        }
    }
}
