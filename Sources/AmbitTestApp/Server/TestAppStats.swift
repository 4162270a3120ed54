// What one instance has served, for tests that count: how many requests reached this
// backend (so a retry test can count attempts), by status, by attempt number, and the
// WebSocket and gRPC traffic. Read at GET /stats; reset with POST /stats/reset.
import NIOConcurrencyHelpers
import Synchronization

public final class TestAppStats: Sendable {
    private struct Counts {
        var byStatus: [Int: Int] = [:]
        var byAttempt: [Int: Int] = [:]
    }

    /// Requests received (admin paths excluded); also the fault plan's request index.
    private let requests = Atomic<Int>(0)
    private let injectedFailures = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)
    private let http2Connections = Atomic<Int>(0)
    private let websocketMessages = Atomic<Int>(0)
    private let grpcCalls = Atomic<Int>(0)
    private let counts = NIOLockedValueBox(Counts())

    public init() {}

    /// Counts a request and returns its 0-based index on this instance.
    func requestReceived(attempt: Int) -> Int {
        counts.withLockedValue { $0.byAttempt[attempt, default: 0] += 1 }
        return requests.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    func responded(status: Int, injected: Bool) {
        counts.withLockedValue { $0.byStatus[status, default: 0] += 1 }
        if injected { injectedFailures.wrappingAdd(1, ordering: .relaxed) }
    }

    func connectionOpened(http2: Bool) {
        connections.wrappingAdd(1, ordering: .relaxed)
        if http2 { http2Connections.wrappingAdd(1, ordering: .relaxed) }
    }

    func websocketMessage() { websocketMessages.wrappingAdd(1, ordering: .relaxed) }
    func grpcCall() { grpcCalls.wrappingAdd(1, ordering: .relaxed) }

    public var requestCount: Int { requests.load(ordering: .relaxed) }

    public func reset() {
        requests.store(0, ordering: .relaxed)
        injectedFailures.store(0, ordering: .relaxed)
        connections.store(0, ordering: .relaxed)
        http2Connections.store(0, ordering: .relaxed)
        websocketMessages.store(0, ordering: .relaxed)
        grpcCalls.store(0, ordering: .relaxed)
        counts.withLockedValue { $0 = Counts() }
    }

    func write(to json: inout JSONWriter, name: String, version: String) {
        let snapshot = counts.withLockedValue { $0 }
        json.beginObject()
        json.field("name", name)
        json.field("version", version)
        json.field("requests", requests.load(ordering: .relaxed))
        json.field("injected_failures", injectedFailures.load(ordering: .relaxed))
        json.field("connections", connections.load(ordering: .relaxed))
        json.field("http2_connections", http2Connections.load(ordering: .relaxed))
        json.field("websocket_messages", websocketMessages.load(ordering: .relaxed))
        json.field("grpc_calls", grpcCalls.load(ordering: .relaxed))
        json.beginObject("by_status")
        for (status, n) in snapshot.byStatus.sorted(by: { $0.key < $1.key }) { json.field(String(status), n) }
        json.endObject()
        json.beginObject("by_attempt")
        for (attempt, n) in snapshot.byAttempt.sorted(by: { $0.key < $1.key }) { json.field(String(attempt), n) }
        json.endObject()
        json.endObject()
    }
}
