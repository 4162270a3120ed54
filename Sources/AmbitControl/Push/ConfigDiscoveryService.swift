import AmbitAPI
import AmbitIdentity
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOConcurrencyHelpers
import X509

/// The node a config stream serves.
public struct PushNode: Sendable, Hashable {
    /// The node's name from its request (`Node.id`), e.g. "node-1".
    public var id: String
    public var metadata: [String: String]
    /// The SPIFFE ID the peer proved with its TLS client certificate; nil over plaintext.
    public var identity: String?

    public init(id: String, metadata: [String: String] = [:], identity: String? = nil) {
        self.id = id
        self.metadata = metadata
        self.identity = identity
    }
}

/// Where the push learns what each node should hold. The control plane implements it over
/// its store and registry (each node gets only what it needs).
public protocol DesiredConfigProvider: Sendable {
    /// Everything `node` should hold now. Throw an `RPCError` (e.g. `.permissionDenied`)
    /// to refuse the node; the stream ends with that status.
    func desiredConfig(for node: PushNode) async throws -> DesiredConfig
    /// Yields whenever the desired config of some node may have changed; each stream then
    /// asks again. Extra notifications are harmless (nothing is sent when nothing differs).
    func changes() -> AsyncStream<Void>
}

/// Every node's push state, for `ambit status` and the admin API.
public final class PushRegistry: Sendable {
    public struct NodeStatus: Sendable, Equatable {
        public var node: PushNode
        public var connected: Bool
        public var types: [PushTypeStatus]
    }

    private struct Entry {
        var status: NodeStatus
        var streams: Set<Int>
        /// The newest stream's session: what the node holds and what it is offered.
        var session: PushSession?
    }

    /// What one node holds, for `ambit proxy-config`.
    public struct Accepted: Sendable {
        public var status: NodeStatus
        /// What the control plane offers the node now (its desired config).
        public var offered: DesiredConfig
        /// Per type URL: resource name → the version the node ACKed.
        public var held: [String: [String: String]]
    }

    private let state = NIOLockedValueBox<(entries: [String: Entry], nextStream: Int)>(([:], 0))

    public init() {}

    func connected(_ node: PushNode) -> Int {
        state.withLockedValue { s in
            s.nextStream += 1
            var entry = s.entries[node.id] ?? Entry(status: NodeStatus(node: node, connected: true, types: []), streams: [])
            entry.status.node = node
            entry.status.connected = true
            entry.streams.insert(s.nextStream)
            s.entries[node.id] = entry
            return s.nextStream
        }
    }

    func update(_ nodeID: String, stream: Int, session: PushSession) {
        let types = session.status()
        state.withLockedValue { s in
            guard s.entries[nodeID]?.streams.contains(stream) == true else { return }
            s.entries[nodeID]?.status.types = types
            s.entries[nodeID]?.session = session
        }
    }

    func disconnected(_ nodeID: String, stream: Int) {
        state.withLockedValue { s in
            s.entries[nodeID]?.streams.remove(stream)
            if s.entries[nodeID]?.streams.isEmpty == true { s.entries[nodeID]?.status.connected = false }
        }
    }

    /// Nodes seen since start, sorted by id; disconnected ones keep their last state.
    public func nodes() -> [NodeStatus] {
        state.withLockedValue { s in s.entries.keys.sorted().map { s.entries[$0]!.status } }
    }

    public func node(_ id: String) -> NodeStatus? { state.withLockedValue { $0.entries[id]?.status } }

    /// What `id` holds as ACKed and what it is offered; nil for a node never seen.
    public func accepted(_ id: String) -> Accepted? {
        guard let (status, session) = state.withLockedValue({ s in s.entries[id].map { ($0.status, $0.session) } }) else { return nil }
        guard let session else { return Accepted(status: status, offered: .empty, held: [:]) }
        var held: [String: [String: String]] = [:]
        for type in session.subscribedTypes { held[type] = session.held(type) }
        return Accepted(status: status, offered: session.desired, held: held)
    }

    /// The same, as the admin API's message.
    public func statusMessages() -> [Ambit_V1_NodeStatus] { nodes().map(Self.message) }

    static func message(_ n: NodeStatus) -> Ambit_V1_NodeStatus {
        var m = Ambit_V1_NodeStatus()
        m.nodeID = n.node.id
        m.identity = n.node.identity ?? ""
        m.connected = n.connected
        m.types = n.types.map { t in
            var ts = Ambit_V1_TypeStatus()
            ts.typeURL = t.typeURL
            ts.ackedVersion = t.ackedVersion
            ts.resourceCount = Int32(clamping: t.resourceCount)
            ts.lastError = t.lastError ?? ""
            ts.pendingNonce = t.pendingNonce ?? ""
            return ts
        }
        return m
    }
}

/// `ConfigDiscovery.DeltaConfig`: one `PushSession` per stream, fed by the node's requests
/// and the provider's change notifications.
///
///     let service = ConfigDiscoveryService(provider: myProvider)
///     let server = GRPCServer(
///         transport: .http2NIOPosix(address: .ipv4(host: "0.0.0.0", port: 15012),
///                                   transportSecurity: ControlPlaneTLS.server(...)),
///         services: [service])
///     try await server.serve()
public struct ConfigDiscoveryService: Ambit_V1_ConfigDiscovery.SimpleServiceProtocol {
    public let provider: any DesiredConfigProvider
    public let registry: PushRegistry
    private let logger: Logger

    public init(provider: any DesiredConfigProvider, registry: PushRegistry = PushRegistry(), logger: Logger = Logger(label: "ambit.control.push")) {
        self.provider = provider
        self.registry = registry
        self.logger = logger
    }

    private enum Event: Sendable {
        case request(Ambit_V1_DeltaDiscoveryRequest)
        case changed
        case requestsEnded
        case failed(any Error)
    }

    public func deltaConfig(
        request: RPCAsyncSequence<Ambit_V1_DeltaDiscoveryRequest, any Error>,
        response: RPCWriter<Ambit_V1_DeltaDiscoveryResponse>,
        context: ServerContext
    ) async throws {
        let identity = Self.peerIdentity(context)
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let provider = self.provider
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in request { continuation.yield(.request(message)) }
                    continuation.yield(.requestsEnded)
                } catch {
                    continuation.yield(.failed(error))
                }
            }
            defer { group.cancelAll() }
            var session: PushSession?
            var node = PushNode(id: "")
            var stream = 0
            defer { if stream != 0 { registry.disconnected(node.id, stream: stream) } }
            var log = logger
            loop: for await event in events {
                switch event {
                case .request(let message):
                    if session == nil {
                        guard message.hasNode, !message.node.id.isEmpty else {
                            throw RPCError(code: .invalidArgument, message: "the first request of a stream must carry node.id")
                        }
                        node = PushNode(id: message.node.id, metadata: message.node.metadata, identity: identity)
                        log[metadataKey: "node"] = "\(node.id)"
                        // Subscribe before reading, so that no change falls in between.
                        let changes = provider.changes()
                        group.addTask {
                            for await _ in changes { continuation.yield(.changed) }
                        }
                        let desired = try await provider.desiredConfig(for: node)
                        session = PushSession(desired: desired, noncePrefix: "")
                        stream = registry.connected(node)
                        log.info("config stream opened", metadata: ["identity": "\(identity ?? "none")"])
                    }
                    if message.hasErrorDetail {
                        log.warning(
                            "node rejected config",
                            metadata: ["type": "\(message.typeURL)", "nonce": "\(message.responseNonce)", "error": "\(message.errorDetail.message)"])
                    }
                    if let out = session!.receive(message) {
                        try await response.write(out)
                    }
                case .changed:
                    guard session != nil else { continue }
                    let desired = try await provider.desiredConfig(for: node)
                    for out in session!.update(desired) {
                        try await response.write(out)
                    }
                case .requestsEnded:
                    break loop
                case .failed(let error):
                    log.debug("config stream ended", metadata: ["error": "\(error)"])
                    break loop
                }
                if let session { registry.update(node.id, stream: stream, session: session) }
            }
        }
    }

    /// The SPIFFE ID of the TLS client certificate, when the transport verified one.
    static func peerIdentity(_ context: ServerContext) -> String? {
        guard let posix = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
            let leaf = posix.peerCertificate
        else { return nil }
        return try? SpiffeSAN.identity(of: leaf).uri
    }
}
