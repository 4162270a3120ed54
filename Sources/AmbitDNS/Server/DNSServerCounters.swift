import NIOConcurrencyHelpers

/// Query counts of one DNS server, for the node's metrics.
public struct DNSServerCounters: Hashable, Sendable {
    /// Mesh names answered from the table, NODATA included.
    public var answeredLocally = 0
    /// Queries an upstream answered (whatever its RCODE), relayed to the client.
    public var forwarded = 0
    /// Queries that got SERVFAIL, FORMERR, NOTIMP or REFUSED from us, or were dropped.
    public var failed = 0

    public init() {}
}

/// The shared state of one server: its counters and how many forwards are in flight,
/// behind one lock since every update is a few integer operations.
final class DNSServerState: Sendable {
    private struct State {
        var counters = DNSServerCounters()
        var forwardsInFlight = 0
    }
    private let box = NIOLockedValueBox(State())

    var counters: DNSServerCounters { box.withLockedValue { $0.counters } }

    func count(_ outcome: QueryPlan.Outcome) {
        box.withLockedValue {
            switch outcome {
            case .answeredLocally: $0.counters.answeredLocally += 1
            case .failed: $0.counters.failed += 1
            }
        }
    }

    func countForwarded() { box.withLockedValue { $0.counters.forwarded += 1 } }

    /// Takes a forwarding slot; false when `limit` are taken, so a flood of queries for
    /// unknown names cannot open unbounded sockets.
    func beginForward(limit: Int) -> Bool {
        box.withLockedValue {
            guard $0.forwardsInFlight < limit else { return false }
            $0.forwardsInFlight += 1
            return true
        }
    }

    func endForward() { box.withLockedValue { $0.forwardsInFlight -= 1 } }
}
