/// Ring hash (Karger's consistent hashing, as Envoy builds it): every member is placed at
/// many points of a 64-bit circle, and a request goes to the first point at or after its
/// own hash. Removing a member hands only its arcs to its neighbours, so most keys keep
/// their endpoint when the set changes.
///
/// Each member gets `ceil(minimumRingSize / members)` points, hashed from
/// `"<address>_<i>"`, so a member's points depend on its address alone. Lookup is a binary
/// search: O(log ring size). Built when the member set changes, never per request.
struct HashRing: Sendable {
    /// Envoy's upper bound, which keeps a misconfigured size from taking gigabytes.
    static let maximumRingSize = 8 * 1024 * 1024

    private var points: [UInt64] = []
    /// The member (an index the caller chose) at each point.
    private var owners: [Int32] = []

    /// - Parameter members: (caller's index, hash key) of every member to place.
    init(members: [(index: Int, key: String)], minimumRingSize: Int) {
        guard !members.isEmpty else { return }
        let size = min(max(minimumRingSize, members.count), Self.maximumRingSize)
        let perMember = (size + members.count - 1) / members.count
        var entries: [(point: UInt64, owner: Int32)] = []
        entries.reserveCapacity(perMember * members.count)
        for member in members {
            for replica in 0..<perMember {
                entries.append((XXHash64.hash("\(member.key)_\(replica)"), Int32(member.index)))
            }
        }
        // Ties (vanishingly rare) break by owner so the ring does not depend on input order.
        entries.sort { $0.point != $1.point ? $0.point < $1.point : $0.owner < $1.owner }
        points = entries.map(\.point)
        owners = entries.map(\.owner)
    }

    var isEmpty: Bool { points.isEmpty }
    var count: Int { points.count }

    /// The member that owns `hash`: the first point at or after it, wrapping at the top.
    func owner(of hash: UInt64) -> Int? {
        guard !points.isEmpty else { return nil }
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return Int(owners[low == points.count ? 0 : low])
    }
}
