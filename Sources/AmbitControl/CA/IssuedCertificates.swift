import AmbitCore
import AmbitIdentity
import NIOConcurrencyHelpers
import X509

/// The certificates this control plane has issued since it started, newest per
/// (identity, requester): what `ambit status` shows as certificate expiry.
///
/// It is a ledger in memory, not a store: after a restart it fills again as nodes and
/// waypoints renew (at half life at the latest), which is also when an entry would have
/// changed anyway. Expired entries are dropped when read, so a workload that left stops
/// being listed once its last certificate has run out.
public final class IssuedCertificates: Sendable {
    public struct Entry: Sendable, Equatable {
        public var identity: String
        /// The node or waypoint that asked (its SPIFFE ID), or "join" for a join.
        public var requester: String
        public var serial: String
        public var notBefore: Double
        public var notAfter: Double
    }

    private struct Key: Hashable {
        var identity: String
        var requester: String
    }

    private let entries = NIOLockedValueBox<[Key: Entry]>([:])

    public init() {}

    /// Records the leaf of a chain just signed.
    func record(_ chain: [Certificate], requester: String) {
        guard let leaf = chain.first, let identity = try? SpiffeSAN.identity(of: leaf) else { return }
        let entry = Entry(
            identity: identity.uri, requester: requester, serial: hexString(leaf.serialNumber.bytes),
            notBefore: leaf.notValidBefore.timeIntervalSince1970, notAfter: leaf.notValidAfter.timeIntervalSince1970)
        entries.withLockedValue { entries in
            let key = Key(identity: entry.identity, requester: requester)
            if let existing = entries[key], existing.notAfter > entry.notAfter { return }
            entries[key] = entry
        }
    }

    /// Entries still valid at `now`, soonest expiry first.
    public func current(at now: Double) -> [Entry] {
        entries.withLockedValue { entries in
            entries = entries.filter { $0.value.notAfter > now }
            return entries.values.sorted { ($0.notAfter, $0.identity, $0.requester) < ($1.notAfter, $1.identity, $1.requester) }
        }
    }
}
