/// Maglev hashing (Google's load balancer, as Envoy offers it): a lookup table of prime
/// size in which every member fills slots in its own pseudo-random order, taking turns,
/// so each owns an almost equal share. A request's slot is `hash % size`: O(1), with a
/// better balance than a ring of the same memory, at the cost of a little more
/// reshuffling when the member set changes.
///
/// Member order: offset = xxHash64(key, seed 0) % size, skip = xxHash64(key, seed 1) %
/// (size − 1) + 1; a prime size makes every skip visit every slot. Built when the member
/// set changes (O(size)), never per request.
struct MaglevTable: Sendable {
    private var slots: [Int32] = []

    init(members: [(index: Int, key: String)], tableSize: Int) {
        guard !members.isEmpty else { return }
        let size = Self.primeAtLeast(max(tableSize, 2))
        var table = [Int32](repeating: -1, count: size)
        // Members in key order, so the table does not depend on how the list was ordered.
        let ordered = members.sorted { $0.key < $1.key }
        var position = ordered.map { Int(XXHash64.hash($0.key, seed: 0) % UInt64(size)) }
        let skip = ordered.map { Int(XXHash64.hash($0.key, seed: 1) % UInt64(size - 1)) + 1 }
        var filled = 0
        fill: while true {
            for m in ordered.indices {
                while table[position[m]] >= 0 { position[m] = (position[m] + skip[m]) % size }
                table[position[m]] = Int32(ordered[m].index)
                position[m] = (position[m] + skip[m]) % size
                filled += 1
                if filled == size { break fill }
            }
        }
        slots = table
    }

    var size: Int { slots.count }

    func owner(of hash: UInt64) -> Int? {
        slots.isEmpty ? nil : Int(slots[Int(hash % UInt64(slots.count))])
    }

    /// Maglev needs a prime size; a size that is not prime (a typo in the rule) is
    /// rounded up rather than producing a table some members cannot fill.
    static func primeAtLeast(_ n: Int) -> Int {
        func isPrime(_ k: Int) -> Bool {
            if k < 2 { return false }
            if k < 4 { return true }
            if k % 2 == 0 { return false }
            var d = 3
            while d * d <= k {
                if k % d == 0 { return false }
                d += 2
            }
            return true
        }
        var k = n
        while !isPrime(k) { k += 1 }
        return k
    }
}
