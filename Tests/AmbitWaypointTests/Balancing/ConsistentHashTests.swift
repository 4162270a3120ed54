import AmbitCore
@testable import AmbitWaypoint
import Testing

@Suite struct ConsistentHashTests {
    static let algorithms: [EndpointBalancer.Algorithm] = [.ringHash(minimumRingSize: 1024), .maglev(tableSize: 65537)]

    /// Where each of `keys` lands.
    func placement(_ endpoints: [Endpoint], _ algorithm: EndpointBalancer.Algorithm, keys: [UInt64]) -> [HostPort] {
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: algorithm, random: FastRandom(seed: 11))
        return keys.map { key in
            let lease = balancer.pick(hash: key)!
            balancer.release(lease)
            return lease.endpoint.address
        }
    }

    let keys = (0..<20_000).map { XXHash64.hash("user-\($0)") }

    @Test(arguments: algorithms)
    func theSameKeyAlwaysLandsOnTheSameEndpoint(algorithm: EndpointBalancer.Algorithm) {
        let endpoints = makeEndpoints(6)
        let first = placement(endpoints, algorithm, keys: keys)
        #expect(placement(endpoints, algorithm, keys: keys) == first)
        // Another proxy that lists the endpoints in another order agrees.
        #expect(placement(endpoints.reversed(), algorithm, keys: keys) == first)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: algorithm, random: FastRandom(seed: 12))
        let lease = balancer.pick(hash: keys[0])!
        for _ in 0..<100 { #expect(balancer.pick(hash: keys[0])!.endpoint == lease.endpoint) }
    }

    @Test(arguments: algorithms)
    func keysSpreadAcrossEndpoints(algorithm: EndpointBalancer.Algorithm) {
        let endpoints = makeEndpoints(10)
        var counts: [HostPort: Int] = [:]
        for address in placement(endpoints, algorithm, keys: keys) { counts[address, default: 0] += 1 }
        #expect(counts.count == 10)
        // Each of ten endpoints gets close to 2000 of 20000 keys; Maglev is near exact,
        // a 1024-point ring within a few tens of percent.
        let tolerance = algorithm == .maglev(tableSize: 65537) ? 0.1 : 0.35
        for (address, count) in counts { #expect(abs(Double(count) - 2000) < 2000 * tolerance, "\(address): \(count)") }
    }

    @Test(arguments: algorithms)
    func removingAnEndpointMovesFewOtherKeys(algorithm: EndpointBalancer.Algorithm) {
        let endpoints = makeEndpoints(10)
        let before = placement(endpoints, algorithm, keys: keys)
        let removed = endpoints[3].address
        let after = placement(endpoints.filter { $0.address != removed }, algorithm, keys: keys)
        var onOthers = 0
        var moved = 0
        for (old, new) in zip(before, after) {
            #expect(new != removed)
            if old != removed {
                onOthers += 1
                if old != new { moved += 1 }
            }
        }
        // Modulo hashing would move about 90 % of them; consistent hashing only the few
        // that the survivors' re-balanced share shifts.
        let fraction = Double(moved) / Double(onOthers)
        #expect(fraction < 0.12, "\(algorithm) moved \(fraction) of keys that stayed placeable")
    }

    @Test func aKeylessRequestIsPlacedAtRandom() {
        var balancer = EndpointBalancer(endpoints: makeEndpoints(4), algorithm: .ringHash(minimumRingSize: 1024), random: FastRandom(seed: 13))
        #expect(balancer.distribution(4_000).count == 4)
    }

    @Test func theRingHasAtLeastTheMinimumSize() {
        let members = makeEndpoints(7).enumerated().map { (index: $0.offset, key: $0.element.hashKey) }
        #expect(HashRing(members: members, minimumRingSize: 1024).count == 147 * 7)
        #expect(HashRing(members: members, minimumRingSize: 3).count == 7)
        #expect(HashRing(members: [], minimumRingSize: 1024).owner(of: 5) == nil)
    }

    @Test func maglevTablesArePrime() {
        #expect(MaglevTable.primeAtLeast(65537) == 65537)
        #expect(MaglevTable.primeAtLeast(65536) == 65537)
        #expect(MaglevTable.primeAtLeast(100) == 101)
        let members = makeEndpoints(3).enumerated().map { (index: $0.offset, key: $0.element.hashKey) }
        #expect(MaglevTable(members: members, tableSize: 1000).size == 1009)
    }

    @Test func wrapsAroundTheTopOfTheRing() {
        let members = [(index: 0, key: "a"), (index: 1, key: "b")]
        let ring = HashRing(members: members, minimumRingSize: 2)
        let owners = [XXHash64.hash("a_0"), XXHash64.hash("b_0")]
        let lowest = owners.min()!
        let lowestOwner = owners.firstIndex(of: lowest)!
        #expect(ring.owner(of: UInt64.max) == lowestOwner)
        #expect(ring.owner(of: 0) == lowestOwner)
        #expect(ring.owner(of: lowest) == lowestOwner)
        #expect(ring.owner(of: lowest + 1) == 1 - lowestOwner)
    }
}
