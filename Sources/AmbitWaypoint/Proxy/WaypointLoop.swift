import NIOCore

/// Everything the request path keeps per event loop: the config in force, the upstream
/// pools, balancer state and telemetry caches. Touched only on its own loop, so the hot
/// path takes no lock; a config change is posted to each loop (`WaypointLoops.update`).
final class WaypointLoop {
    let loop: any EventLoop
    var config: WaypointConfig {
        didSet {
            // States of destinations the new config no longer has are dropped (with their
            // timers); the others are rebuilt on first use, carrying their counts over.
            for (key, state) in destinations where config.backends[key.backend] == nil {
                state.outlierTimer?.cancel()
                destinations[key] = nil
            }
        }
    }
    /// Upstreams of the mesh path (HBONE to mesh endpoints).
    let meshPool: UpstreamPool
    /// Upstreams of the plain benchmark listener.
    let plainPool: UpstreamPool
    let series = SeriesCache()
    var requestIDs: RequestIDGenerator
    /// Weighted backends, fault percentages: per loop, so drawing takes no lock.
    var random = FastRandom()
    /// Balancer, limits, outlier detection and retry budget per destination, built on
    /// first use under each config.
    private var destinations: [DestinationState.Key: DestinationState] = [:]

    init(loop: any EventLoop, config: WaypointConfig, meshConnector: any UpstreamConnector, plainConnector: any UpstreamConnector) {
        self.loop = loop
        self.config = config
        self.meshPool = UpstreamPool(loop: loop, connector: meshConnector)
        self.plainPool = UpstreamPool(loop: loop, connector: plainConnector)
        self.requestIDs = RequestIDGenerator()
    }

    /// The loop's clock in seconds, what the resilience state machines count in. The event
    /// loop's `now` is the injected clock: an `EmbeddedEventLoop` moves it by hand.
    var seconds: Double { Double(loop.now.uptimeNanoseconds) / 1e9 }

    /// The state of `backend` under the current config (rebuilt, carrying counts over, when
    /// the config changed since it was built).
    func destination(_ backend: Backend, plain: Bool, metrics: UpstreamMetrics) -> DestinationState {
        let key = DestinationState.Key(backend: backend.key, plain: plain)
        let existing = destinations[key]
        if let existing, existing.config === config { return existing }
        let state = DestinationState(config: config, backend: backend, plain: plain, previous: existing, metrics: metrics, now: seconds)
        state.armOutlierTimer(on: self)
        destinations[key] = state
        return state
    }
}

/// The per-loop states of a waypoint, one per event loop of its group, fixed at start.
final class WaypointLoops: Sendable {
    private let entries: [NIOLoopBound<WaypointLoop>]

    init(
        group: any EventLoopGroup, config: WaypointConfig, meshConnector: any UpstreamConnector,
        plainConnector: any UpstreamConnector
    ) async throws {
        var entries: [NIOLoopBound<WaypointLoop>] = []
        for loop in group.makeIterator() {
            entries.append(
                try await loop.submit {
                    NIOLoopBound(
                        WaypointLoop(loop: loop, config: config, meshConnector: meshConnector, plainConnector: plainConnector),
                        eventLoop: loop)
                }.get())
        }
        self.entries = entries
    }

    /// From states already made on their loops (handler tests on an `EmbeddedEventLoop`).
    init(states: [WaypointLoop]) {
        entries = states.map { NIOLoopBound($0, eventLoop: $0.loop) }
    }

    /// The state of `loop`; call on that loop.
    func state(for loop: any EventLoop) -> WaypointLoop {
        for entry in entries where entry.eventLoop === loop { return entry.value }
        preconditionFailure("event loop \(loop) is not one of the waypoint's")
    }

    /// Posts a new config to every loop; requests already routed keep the old one.
    func update(_ config: WaypointConfig) {
        for entry in entries { entry.eventLoop.execute { entry.value.config = config } }
    }

    func closeAll() async {
        for entry in entries {
            try? await entry.eventLoop.submit {
                entry.value.meshPool.closeAll()
                entry.value.plainPool.closeAll()
            }.get()
        }
    }

    /// Idle upstream connections across loops (tests, /config_dump).
    func idleUpstreams() async -> Int {
        var total = 0
        for entry in entries {
            total += (try? await entry.eventLoop.submit { entry.value.meshPool.idleCount + entry.value.plainPool.idleCount }.get()) ?? 0
        }
        return total
    }
}

/// `x-request-id` for requests that come without one: UUID-shaped (what Envoy generates and
/// log tooling expects), from a per-loop xorshift generator seeded once from the system,
/// so a request costs a few arithmetic operations rather than a system call.
struct RequestIDGenerator {
    private var state: UInt64

    init(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        state = seed
    }

    private mutating func next64() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func next() -> String {
        let a = next64()
        let b = next64()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var i = 0
            func put(_ value: UInt64, _ nibbles: Int) {
                for n in stride(from: nibbles - 1, through: 0, by: -1) {
                    buffer[i] = hex[Int((value >> (UInt64(n) * 4)) & 0xf)]
                    i += 1
                }
            }
            put(a >> 32, 8); buffer[i] = UInt8(ascii: "-"); i += 1
            put((a >> 16) & 0xffff, 4); buffer[i] = UInt8(ascii: "-"); i += 1
            put(0x4000 | (a & 0x0fff), 4); buffer[i] = UInt8(ascii: "-"); i += 1
            put(0x8000 | ((b >> 48) & 0x3fff), 4); buffer[i] = UInt8(ascii: "-"); i += 1
            put(b & 0xffff_ffff_ffff, 12)
            return i
        }
    }
}
