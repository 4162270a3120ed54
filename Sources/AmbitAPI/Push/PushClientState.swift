/// The data-plane side of the config push, without I/O: what this process last accepted,
/// the requests that open a stream (with the versions held, for a resync), and the ACK or
/// NACK for each response.
///
/// A response is applied to a copy of the accepted set, and the caller's `validate`
/// decides: accepted, the copy becomes the accepted set and an ACK goes back; rejected,
/// the accepted set stays as it was and a NACK with the reason goes back.
public struct PushClientState: Sendable {
    public let node: Ambit_V1_Node
    /// The types this process subscribes to (wildcard: everything the control plane says it
    /// needs of each type).
    public let typeURLs: [String]
    public private(set) var accepted: AcceptedConfig
    /// Why the latest response of a type was rejected; cleared when one is accepted.
    public private(set) var lastRejection: [String: String] = [:]

    public enum Outcome: Sendable, Equatable {
        /// Applied; `changed` is false when the response changed nothing.
        case accepted(changed: Bool)
        case rejected(String)
    }

    public init(node: Ambit_V1_Node, typeURLs: [String], accepted: AcceptedConfig = .empty) {
        self.node = node
        self.typeURLs = typeURLs
        self.accepted = accepted
    }

    /// The requests that open a stream: one per type, carrying what is held of that type
    /// as `initial_resource_versions`, so that the control plane sends only differences.
    public func streamStartRequests() -> [Ambit_V1_DeltaDiscoveryRequest] {
        typeURLs.map { typeURL in
            var request = Ambit_V1_DeltaDiscoveryRequest()
            request.node = node
            request.typeURL = typeURL
            request.initialResourceVersions = accepted.versions(of: typeURL)
            return request
        }
    }

    /// Applies `response` if `validate` accepts the resulting set (it returns nil, or why
    /// not) and returns the ACK or NACK to send.
    public mutating func handle(
        _ response: Ambit_V1_DeltaDiscoveryResponse, validate: (AcceptedConfig) -> String?
    ) -> (reply: Ambit_V1_DeltaDiscoveryRequest, outcome: Outcome) {
        var reply = Ambit_V1_DeltaDiscoveryRequest()
        reply.typeURL = response.typeURL
        reply.responseNonce = response.nonce
        let outcome: Outcome
        if let problem = Self.check(response, subscribed: typeURLs) {
            outcome = .rejected(problem)
        } else {
            var candidate = accepted
            var byName = candidate.resources[response.typeURL] ?? [:]
            for resource in response.resources { byName[resource.name] = resource }
            for name in response.removedResources { byName[name] = nil }
            candidate.resources[response.typeURL] = byName
            candidate.systemVersions[response.typeURL] = response.systemVersionInfo
            if let problem = validate(candidate) {
                outcome = .rejected(problem)
            } else {
                // Only this type can differ; comparing the whole set would cost its size.
                let changed = candidate.resources[response.typeURL] != accepted.resources[response.typeURL]
                accepted = candidate
                lastRejection[response.typeURL] = nil
                outcome = .accepted(changed: changed)
            }
        }
        if case .rejected(let message) = outcome {
            lastRejection[response.typeURL] = message
            var detail = Ambit_V1_ErrorDetail()
            detail.code = 3  // INVALID_ARGUMENT
            detail.message = message
            reply.errorDetail = detail
        }
        return (reply, outcome)
    }

    /// What is wrong with a response before its contents are even looked at.
    static func check(_ response: Ambit_V1_DeltaDiscoveryResponse, subscribed: [String]) -> String? {
        guard subscribed.contains(response.typeURL) else {
            return "not subscribed to '\(response.typeURL)'"
        }
        var names: Set<String> = []
        for resource in response.resources {
            if resource.name.isEmpty { return "a resource has no name" }
            guard names.insert(resource.name).inserted else { return "resource '\(resource.name)' appears twice in one response" }
        }
        for name in response.removedResources where names.contains(name) {
            return "resource '\(name)' is both updated and removed"
        }
        return nil
    }
}

/// Reconnect delays: "full jitter" exponential backoff. The n-th delay after a failure
/// (n from 0) is uniform in [0, min(cap, base·2ⁿ)]; `reset` after a healthy stream.
public struct ReconnectBackoff: Sendable {
    public var base: Double
    public var cap: Double
    public private(set) var attempts = 0

    public init(base: Double = 0.5, cap: Double = 30) {
        self.base = base
        self.cap = cap
    }

    /// The upper bound of the next delay.
    public var ceiling: Double {
        min(cap, base * Double(1 << min(attempts, 40)))
    }

    /// The next delay; `jitter(upper)` picks a value in [0, upper] (random in production).
    public mutating func next(jitter: (Double) -> Double) -> Double {
        let upper = ceiling
        attempts += 1
        return min(max(jitter(upper), 0), upper)
    }

    public mutating func reset() { attempts = 0 }
}
