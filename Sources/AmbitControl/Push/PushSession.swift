import AmbitAPI

/// What one node should hold: per type URL, its resources, plus the version of the whole
/// config they were computed from (sent as `system_version_info`).
public struct DesiredConfig: Sendable, Equatable {
    public var version: String
    public var resources: [String: [Ambit_V1_Resource]]

    public init(version: String, resources: [String: [Ambit_V1_Resource]]) {
        self.version = version
        self.resources = resources
    }

    public static let empty = DesiredConfig(version: "", resources: [:])
}

/// What `ambit status` shows about one type of one node's stream.
public struct PushTypeStatus: Sendable, Equatable {
    public var typeURL: String
    /// `system_version_info` of the last ACKed response ("" before the first).
    public var ackedVersion: String
    /// Resources the node holds, as far as its ACKs say.
    public var resourceCount: Int
    /// The last NACK's detail, until a later response is ACKed.
    public var lastError: String?
    /// The nonce an answer is awaited for.
    public var pendingNonce: String?
    public var acks: Int
    public var nacks: Int
    /// Resources sent on this stream (updates, not removals): how much a resync cost.
    public var resourcesSent: Int
    /// Responses sent on this stream.
    public var responsesSent: Int
}

/// The control-plane side of one config stream, without I/O.
///
/// Per type it tracks what the node holds (name → version, from its ACKs or, after a
/// reconnect, from its `initial_resource_versions`) and the one response awaiting an
/// answer. A response goes out only when the desired set differs from what the node
/// holds, and carries only the differences: changed or added resources and removed
/// names. There is at most one response in flight per type: a change while one is
/// pending is sent once the node has answered, computed against what it then holds.
///
/// - ACK (the pending nonce, no `error_detail`): the node now holds what was sent.
/// - NACK (the pending nonce with `error_detail`): the node keeps what it had; the error
///   is kept for `status`, and the same desired versions are not offered again — only a
///   change of the desired set leads to a new response.
/// - Any other nonce is stale and ignored.
public struct PushSession: Sendable {
    struct Pending: Sendable {
        var nonce: String
        var updated: [String: String]
        var removed: [String]
        var systemVersion: String
        /// The desired versions this response brings the node to.
        var target: [String: String]
    }

    struct TypeState: Sendable {
        var wildcard = true
        var names: Set<String> = []
        var held: [String: String] = [:]
        var ackedVersion = ""
        var pending: Pending?
        /// The desired versions the node last rejected.
        var rejected: [String: String]?
        var lastError: Ambit_V1_ErrorDetail?
        var acks = 0
        var nacks = 0
        var resourcesSent = 0
        var responsesSent = 0
    }

    public private(set) var desired: DesiredConfig
    private var types: [String: TypeState] = [:]
    private var nonceCounter = 0
    private let noncePrefix: String

    /// - Parameter noncePrefix: distinguishes this stream's nonces from another's.
    public init(desired: DesiredConfig = .empty, noncePrefix: String = "") {
        self.desired = desired
        self.noncePrefix = noncePrefix
    }

    public var subscribedTypes: [String] { types.keys.sorted() }

    /// Handles one request from the node; returns the response to send, if any.
    public mutating func receive(_ request: Ambit_V1_DeltaDiscoveryRequest) -> Ambit_V1_DeltaDiscoveryResponse? {
        let typeURL = request.typeURL
        guard !typeURL.isEmpty else { return nil }
        guard var state = types[typeURL] else {
            // The first request of this type in this stream.
            var state = TypeState()
            let subscribe = Set(request.resourceNamesSubscribe)
            state.wildcard = subscribe.isEmpty || subscribe.contains("*")
            state.names = subscribe.subtracting(["*"])
            state.held = request.initialResourceVersions
            types[typeURL] = state
            // The first request of a type is always answered, even when there is nothing
            // to send: that answer is how the node knows it is in sync, e.g. a node that
            // restarted with a stored config learns it is still current.
            return respond(typeURL, force: true)
        }
        if !request.responseNonce.isEmpty, let pending = state.pending, pending.nonce == request.responseNonce {
            state.pending = nil
            if request.hasErrorDetail {
                state.rejected = pending.target
                state.lastError = request.errorDetail
                state.nacks += 1
            } else {
                for (name, version) in pending.updated { state.held[name] = version }
                for name in pending.removed { state.held[name] = nil }
                state.ackedVersion = pending.systemVersion
                state.rejected = nil
                state.lastError = nil
                state.acks += 1
            }
        }
        // A nonce that is not the pending one is stale: ignored.
        // Then subscription changes, against what the node now holds.
        for name in request.resourceNamesSubscribe {
            if name == "*" { state.wildcard = true } else { state.names.insert(name) }
        }
        for name in request.resourceNamesUnsubscribe {
            if name == "*" { state.wildcard = false } else {
                state.names.remove(name)
                if !state.wildcard { state.held[name] = nil }  // the node forgets it by itself
            }
        }
        types[typeURL] = state
        return respond(typeURL, force: false)
    }

    /// A new desired set; returns the responses to send (one per subscribed type that now
    /// differs and has nothing in flight).
    public mutating func update(_ newDesired: DesiredConfig) -> [Ambit_V1_DeltaDiscoveryResponse] {
        desired = newDesired
        return types.keys.sorted().compactMap { respond($0, force: false) }
    }

    /// The node's view of each subscribed type, for `ambit status`.
    public func status() -> [PushTypeStatus] {
        types.keys.sorted().map { typeURL in
            let s = types[typeURL]!
            return PushTypeStatus(
                typeURL: typeURL, ackedVersion: s.ackedVersion, resourceCount: s.held.count,
                lastError: s.lastError.map { "code \($0.code): \($0.message)" }, pendingNonce: s.pending?.nonce,
                acks: s.acks, nacks: s.nacks, resourcesSent: s.resourcesSent, responsesSent: s.responsesSent)
        }
    }

    /// What the node holds of `typeURL` (name → version), as far as the session knows.
    public func held(_ typeURL: String) -> [String: String] { types[typeURL]?.held ?? [:] }

    private mutating func respond(_ typeURL: String, force: Bool) -> Ambit_V1_DeltaDiscoveryResponse? {
        guard var state = types[typeURL], state.pending == nil else { return nil }
        var target: [String: Ambit_V1_Resource] = [:]
        for resource in desired.resources[typeURL] ?? [] where state.wildcard || state.names.contains(resource.name) {
            target[resource.name] = resource
        }
        let targetVersions = target.mapValues(\.version)
        if let rejected = state.rejected, rejected == targetVersions { return nil }
        let updated = target.values.filter { state.held[$0.name] != $0.version }.sorted { $0.name < $1.name }
        let removed = state.held.keys.filter { target[$0] == nil }.sorted()
        if updated.isEmpty && removed.isEmpty && !force { return nil }
        nonceCounter += 1
        let nonce = noncePrefix + String(nonceCounter)
        state.pending = Pending(
            nonce: nonce, updated: Dictionary(uniqueKeysWithValues: updated.map { ($0.name, $0.version) }), removed: removed,
            systemVersion: desired.version, target: targetVersions)
        state.resourcesSent += updated.count
        state.responsesSent += 1
        types[typeURL] = state
        var response = Ambit_V1_DeltaDiscoveryResponse()
        response.systemVersionInfo = desired.version
        response.typeURL = typeURL
        response.resources = updated
        response.removedResources = removed
        response.nonce = nonce
        return response
    }
}
