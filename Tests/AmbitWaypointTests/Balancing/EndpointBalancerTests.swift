import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct EndpointBalancerTests {
    @Test func roundRobinIsExact() {
        let endpoints = makeEndpoints(4)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: .roundRobin, random: FastRandom(seed: 1))
        let counts = balancer.distribution(400)
        #expect(counts.count == 4)
        #expect(counts.values.allSatisfy { $0 == 100 })
        // In turn: four picks in a row visit four different endpoints.
        var window: Set<HostPort> = []
        for _ in 0..<4 {
            let lease = balancer.pick()!
            window.insert(lease.endpoint.address)
            balancer.release(lease)
        }
        #expect(window.count == 4)
    }

    @Test func randomIsUniformWithinTolerance() {
        var balancer = EndpointBalancer(endpoints: makeEndpoints(5), algorithm: .random, random: FastRandom(seed: 2))
        let counts = balancer.distribution(50_000)
        #expect(counts.count == 5)
        for (address, count) in counts { #expect(abs(count - 10_000) < 400, "\(address): \(count)") }
    }

    @Test func leastRequestSpreadsEvenlyWhenLoadIsEven() {
        var balancer = EndpointBalancer(endpoints: makeEndpoints(4), algorithm: .leastRequest, random: FastRandom(seed: 3))
        let counts = balancer.distribution(40_000)
        for (address, count) in counts { #expect(abs(count - 10_000) < 400, "\(address): \(count)") }
    }

    @Test func leastRequestPrefersTheLessLoaded() {
        let endpoints = makeEndpoints(4)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: .leastRequest, random: FastRandom(seed: 4))
        // Hold 300 requests open, then give back the ones that went to the first endpoint.
        var held: [EndpointBalancer.Lease] = []
        for _ in 0..<300 { held.append(balancer.pick()!) }
        for lease in held where lease.endpoint == endpoints[0] { balancer.release(lease) }
        #expect(balancer.requestsInFlight(at: endpoints[0].address) == 0)
        #expect(balancer.requestsInFlight(at: endpoints[1].address) > 50)

        // The idle endpoint wins whenever it is one of the two drawn: 1 − C(3,2)/C(4,2) = 1/2
        // of picks, against 1/4 for a blind choice.
        let counts = balancer.distribution(20_000)
        let share = Double(counts[endpoints[0].address] ?? 0) / 20_000
        #expect(abs(share - 0.5) < 0.02, "idle endpoint share \(share)")

        // With two endpoints both are always compared: the idle one always wins.
        var pair = EndpointBalancer(endpoints: Array(endpoints.prefix(2)), algorithm: .leastRequest, random: FastRandom(seed: 5))
        var busy = pair.pick()!
        while busy.endpoint != endpoints[1] {
            pair.release(busy)
            busy = pair.pick()!
        }
        let others = pair.distribution(1_000)
        #expect(others[endpoints[0].address] == 1_000)
    }

    @Test func ejectedEndpointsAreSkipped() {
        let endpoints = makeEndpoints(4)
        for algorithm in [EndpointBalancer.Algorithm.roundRobin, .random, .leastRequest, .ringHash(minimumRingSize: 1024), .maglev(tableSize: 65537)] {
            var balancer = EndpointBalancer(endpoints: endpoints, algorithm: algorithm, random: FastRandom(seed: 6))
            balancer.update(ejected: [endpoints[1].address, endpoints[2].address])
            #expect(!balancer.isPanicking)
            let counts = balancer.distribution(2_000, hash: { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 })
            #expect(Set(counts.keys) == [endpoints[0].address, endpoints[3].address], "\(algorithm)")
        }
    }

    @Test func allEjectedMeansPanicAndEveryEndpointIsUsed() {
        let endpoints = makeEndpoints(3)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: .roundRobin, random: FastRandom(seed: 7))
        balancer.update(ejected: Set(endpoints.map(\.address)))
        #expect(balancer.isPanicking)
        #expect(balancer.distribution(300).values.allSatisfy { $0 == 100 })
        balancer.update(ejected: [endpoints[0].address])
        #expect(!balancer.isPanicking)
    }

    @Test func minHealthPercentIsThePanicThreshold() {
        let endpoints = makeEndpoints(4)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: .random, panicThresholdPercent: 50, random: FastRandom(seed: 8))
        balancer.update(ejected: [endpoints[0].address, endpoints[1].address])
        #expect(!balancer.isPanicking, "2 of 4 healthy is exactly 50 %")
        balancer.update(ejected: [endpoints[0].address, endpoints[1].address, endpoints[2].address])
        #expect(balancer.isPanicking)
        #expect(balancer.distribution(4_000).count == 4)
    }

    @Test func noEndpointsMeansNoPick() {
        var balancer = EndpointBalancer(endpoints: [], algorithm: .leastRequest)
        #expect(balancer.pick() == nil)
        #expect(ResilienceReply.noHealthyUpstream.status == 503)
        #expect(ResilienceReply.noHealthyUpstream.responseFlag == "UH")
    }

    @Test func newEndpointsKeepInFlightCountsAndEjections() {
        let endpoints = makeEndpoints(3)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: .leastRequest, random: FastRandom(seed: 9))
        var lease = balancer.pick()!
        while lease.endpoint != endpoints[2] {
            balancer.release(lease)
            lease = balancer.pick()!
        }
        balancer.update(ejected: [endpoints[1].address])
        let grown = [endpoints[2]] + makeEndpoints(2, firstOctet: 2) + [endpoints[1]]
        balancer.update(endpoints: grown)
        #expect(balancer.requestsInFlight(at: endpoints[2].address) == 1)
        #expect(balancer.ejected == [endpoints[1].address])
        balancer.release(lease)  // picked before the update: found by address
        #expect(balancer.requestsInFlight(at: endpoints[2].address) == 0)
        balancer.update(endpoints: Array(grown.prefix(3)))
        #expect(balancer.ejected.isEmpty, "an ejected host that left is forgotten")
    }

    @Test func algorithmsFollowTheDestinationRule() {
        #expect(EndpointBalancer.Algorithm(.default) == .leastRequest)
        #expect(EndpointBalancer.Algorithm(.simple(.roundRobin)) == .roundRobin)
        #expect(EndpointBalancer.Algorithm(.simple(.random)) == .random)
        #expect(EndpointBalancer.Algorithm(.simple(.passthrough)) == nil)
        #expect(EndpointBalancer.Algorithm(.consistentHash(.init(key: .useSourceIp))) == .ringHash(minimumRingSize: 1024))
        #expect(
            EndpointBalancer.Algorithm(.consistentHash(.init(key: .useSourceIp, algorithm: .maglev(tableSize: 65537))))
                == .maglev(tableSize: 65537))
    }
}
