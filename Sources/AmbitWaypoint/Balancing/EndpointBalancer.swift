import AmbitCore

/// Chooses the endpoint for each attempt at one destination (a service, or a subset of
/// it), with the algorithm its DestinationRule names.
///
/// - `roundRobin`: in turn, from a random starting point (so event loops and restarts do
///   not all begin on the same endpoint).
/// - `random`: uniform.
/// - `leastRequest` (the default): power of two choices — two distinct random endpoints,
///   the one with fewer requests in flight. Nearly as good as scanning all, in O(1), and
///   without every balancer stampeding to the same idle host.
/// - `ringHash` / `maglev`: by the request's `RequestHash`, so a key keeps its endpoint
///   while the set is stable; a request without a key is placed at random.
///
/// Ejected endpoints (from `OutlierDetector`) are skipped, unless that would leave fewer
/// than `panicThresholdPercent` of them (Istio's `minHealthPercent`) or none at all: then
/// the balancer panics, as Envoy does, and uses every endpoint, because a request to a
/// host that may be failing beats a certain 503.
///
/// Picking is O(1) (O(log n) for the ring). Everything costly — the healthy list, the ring,
/// the Maglev table — is rebuilt only in `update(endpoints:)` / `update(ejected:)`.
///
/// A value owned by one event loop (its in-flight counts are that loop's, as Envoy's are
/// per worker); a proxy sharing one across loops must lock it. Every `pick` that returns
/// a lease must be paired with one `release`.
public struct EndpointBalancer: Sendable {
    public enum Algorithm: Hashable, Sendable {
        case roundRobin
        case random
        case leastRequest
        case ringHash(minimumRingSize: Int)
        case maglev(tableSize: Int)

        /// nil for `PASSTHROUGH`: the proxy dials the original destination and balances nothing.
        public init?(_ loadBalancer: DestinationRule.LoadBalancer) {
            switch loadBalancer {
            case .simple(.roundRobin): self = .roundRobin
            case .simple(.random): self = .random
            case .simple(.leastRequest): self = .leastRequest
            case .simple(.passthrough): return nil
            case .consistentHash(let hash):
                switch hash.algorithm {
                case .ringHash(let minimumRingSize): self = .ringHash(minimumRingSize: minimumRingSize)
                case .maglev(let tableSize): self = .maglev(tableSize: tableSize)
                }
            }
        }
    }

    /// One request in flight at an endpoint; give it back with `release`.
    public struct Lease: Sendable {
        public let endpoint: Endpoint
        fileprivate let slot: Int
        /// The endpoint's position in `endpoints` when it was picked, so the owner can keep
        /// a parallel array of what it dials instead of looking the address up.
        public var index: Int { slot }
    }

    public let algorithm: Algorithm
    /// What a consistent-hash balancer hashes; nil for the other algorithms.
    public let hashKey: DestinationRule.ConsistentHash.Key?
    public let panicThresholdPercent: Int
    public private(set) var endpoints: [Endpoint]
    public private(set) var ejected: Set<HostPort> = []
    /// True while ejections are being ignored (too few healthy endpoints).
    public private(set) var isPanicking = false

    /// Indices into `endpoints` that picks are made from.
    private var active: [Int] = []
    private var inFlight: [Int]
    private var cursor = 0
    private var ring: HashRing?
    private var maglev: MaglevTable?
    private var random: FastRandom

    public init(
        endpoints: [Endpoint], algorithm: Algorithm, hashKey: DestinationRule.ConsistentHash.Key? = nil,
        panicThresholdPercent: Int = 0, random: FastRandom = FastRandom()
    ) {
        self.algorithm = algorithm
        self.hashKey = hashKey
        self.panicThresholdPercent = panicThresholdPercent
        self.endpoints = endpoints
        self.random = random
        inFlight = Array(repeating: 0, count: endpoints.count)
        if !endpoints.isEmpty { cursor = Int.random(in: 0..<endpoints.count, using: &self.random) }
        rebuild()
    }

    /// A balancer over the policy's subset of `endpoints`, with its algorithm, hash key and
    /// panic threshold; nil when the policy is `PASSTHROUGH`.
    public init?(endpoints: [Endpoint], policy: DestinationPolicy, random: FastRandom = FastRandom()) {
        guard let algorithm = Algorithm(policy.loadBalancer) else { return nil }
        var hashKey: DestinationRule.ConsistentHash.Key?
        if case .consistentHash(let hash) = policy.loadBalancer { hashKey = hash.key }
        self.init(
            endpoints: policy.members(of: endpoints), algorithm: algorithm, hashKey: hashKey,
            panicThresholdPercent: policy.panicThresholdPercent, random: random)
    }

    // MARK: - Per request

    /// Chooses an endpoint and counts the request in flight there. `hash` is the request's
    /// `RequestHash.value` for the consistent-hash algorithms (ignored by the others).
    /// nil only when there is no endpoint at all (503 `UH`).
    public mutating func pick(hash: UInt64? = nil) -> Lease? {
        guard !active.isEmpty else { return nil }
        let slot: Int
        switch algorithm {
        case .roundRobin:
            cursor = cursor &+ 1
            slot = active[cursor % active.count]
        case .random:
            slot = randomActive()
        case .leastRequest:
            slot = leastLoadedOfTwo()
        case .ringHash:
            slot = hash.flatMap { ring?.owner(of: $0) } ?? randomActive()
        case .maglev:
            slot = hash.flatMap { maglev?.owner(of: $0) } ?? randomActive()
        }
        inFlight[slot] += 1
        return Lease(endpoint: endpoints[slot], slot: slot)
    }

    /// The request on `lease` has finished (answered, failed or cancelled).
    public mutating func release(_ lease: Lease) {
        // The endpoint list may have changed since the pick; then find it by address.
        let slot: Int? =
            lease.slot < endpoints.count && endpoints[lease.slot].address == lease.endpoint.address
            ? lease.slot : endpoints.firstIndex { $0.address == lease.endpoint.address }
        if let slot, inFlight[slot] > 0 { inFlight[slot] -= 1 }
    }

    /// Requests in flight at `address` through this balancer.
    public func requestsInFlight(at address: HostPort) -> Int {
        endpoints.firstIndex { $0.address == address }.map { inFlight[$0] } ?? 0
    }

    // MARK: - When the set changes

    /// New endpoints from the registry. In-flight counts and ejections carry over for
    /// addresses that stay.
    public mutating func update(endpoints newEndpoints: [Endpoint]) {
        var carried: [HostPort: Int] = [:]
        for (index, endpoint) in endpoints.enumerated() where inFlight[index] > 0 { carried[endpoint.address] = inFlight[index] }
        endpoints = newEndpoints
        inFlight = newEndpoints.map { carried[$0.address] ?? 0 }
        let addresses = Set(newEndpoints.map(\.address))
        ejected = ejected.filter(addresses.contains)
        rebuild()
    }

    /// The hosts the outlier detector has ejected now.
    public mutating func update(ejected newEjected: Set<HostPort>) {
        guard newEjected != ejected else { return }
        ejected = newEjected
        rebuild()
    }

    private mutating func rebuild() {
        let healthy = endpoints.indices.filter { !ejected.contains(endpoints[$0].address) }
        isPanicking =
            !endpoints.isEmpty && (healthy.isEmpty || healthy.count * 100 < panicThresholdPercent * endpoints.count)
        active = isPanicking ? Array(endpoints.indices) : healthy
        let members = active.map { (index: $0, key: endpoints[$0].hashKey) }
        switch algorithm {
        case .ringHash(let minimumRingSize): ring = HashRing(members: members, minimumRingSize: minimumRingSize)
        case .maglev(let tableSize): maglev = MaglevTable(members: members, tableSize: tableSize)
        case .roundRobin, .random, .leastRequest: break
        }
    }

    // MARK: - Choices

    private mutating func randomActive() -> Int {
        active[Int.random(in: 0..<active.count, using: &random)]
    }

    private mutating func leastLoadedOfTwo() -> Int {
        guard active.count > 1 else { return active[0] }
        let first = Int.random(in: 0..<active.count, using: &random)
        var second = Int.random(in: 0..<(active.count - 1), using: &random)
        if second >= first { second += 1 }
        let a = active[first]
        let b = active[second]
        return inFlight[b] < inFlight[a] ? b : a
    }
}
