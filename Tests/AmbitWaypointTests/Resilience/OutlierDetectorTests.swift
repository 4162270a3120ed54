import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct OutlierDetectorTests {
    let start = 5_000.0

    func hosts(_ count: Int) -> [HostPort] { (1...count).map { HostPort(host: "10.0.0.\($0)", port: 8080) } }

    func config(_ change: (inout DestinationRule.OutlierDetection) -> Void = { _ in }) -> DestinationRule.OutlierDetection {
        var config = DestinationRule.OutlierDetection()
        change(&config)
        return config
    }

    /// Sends `count` outcomes to `host` and returns the ejection, if one happened.
    @discardableResult
    func fail(_ detector: inout OutlierDetector, _ host: HostPort, _ count: Int, with outcome: AttemptOutcome = .status(500), at now: Double)
        -> OutlierDetector.Event?
    {
        var event: OutlierDetector.Event?
        for _ in 0..<count { event = detector.record(outcome, for: host, now: now) ?? event }
        return event
    }

    @Test func fiveConsecutive5xxEjectForTheBaseTime() {
        let all = hosts(3)
        var detector = OutlierDetector(config(), hosts: all, now: start)
        #expect(fail(&detector, all[0], 4, at: start + 1) == nil)
        #expect(!detector.isEjected(all[0]))
        #expect(fail(&detector, all[0], 1, at: start + 1) == .ejected(all[0], until: start + 31))
        #expect(detector.isEjected(all[0]))
        #expect(detector.ejectedHosts == [all[0]])
        #expect(detector.ejectionMultiplier(of: all[0]) == 1)
    }

    @Test func aSuccessBreaksTheRun() {
        let all = hosts(3)
        var detector = OutlierDetector(config(), hosts: all, now: start)
        fail(&detector, all[0], 4, at: start)
        detector.record(.status(200), for: all[0], now: start)
        #expect(fail(&detector, all[0], 4, at: start) == nil)
        detector.record(.status(404), for: all[0], now: start)
        #expect(fail(&detector, all[0], 4, with: .connectFailure, at: start) == nil)
        #expect(fail(&detector, all[0], 1, with: .status(503), at: start) != nil)
    }

    @Test func gatewayErrorsHaveTheirOwnRun() {
        let all = hosts(2)
        var detector = OutlierDetector(config { $0.consecutive5xxErrors = 0; $0.consecutiveGatewayErrors = 3 }, hosts: all, now: start)
        fail(&detector, all[0], 1, with: .status(502), at: start)
        fail(&detector, all[0], 1, with: .status(504), at: start)
        // A 500 is a 5xx but not a gateway error: it breaks the gateway run.
        fail(&detector, all[0], 1, with: .status(500), at: start)
        #expect(fail(&detector, all[0], 2, with: .reset, at: start) == nil)
        #expect(fail(&detector, all[0], 1, with: .perTryTimeout, at: start) != nil)
        #expect(fail(&detector, all[1], 10, with: .status(500), at: start) == nil, "5xx checking is off")
    }

    @Test func aRefusedStreamAndGRPCErrorsSayNothingAboutTheHost() {
        let all = hosts(2)
        var detector = OutlierDetector(config(), hosts: all, now: start)
        fail(&detector, all[0], 4, at: start)
        fail(&detector, all[0], 3, with: .refusedStream, at: start)
        #expect(fail(&detector, all[0], 1, at: start) != nil, "refused streams neither count nor break the run")
        fail(&detector, all[1], 4, at: start)
        detector.record(.grpcStatus(14), for: all[1], now: start)
        #expect(fail(&detector, all[1], 4, at: start) == nil)
    }

    @Test func anEjectedHostReturnsWhenItsTimeIsUp() {
        let all = hosts(3)
        var detector = OutlierDetector(config(), hosts: all, now: start)
        fail(&detector, all[1], 5, at: start + 2)
        #expect(detector.nextTick == start + 10)
        #expect(detector.tick(now: start + 10).isEmpty)
        #expect(detector.nextTick == start + 20)
        #expect(detector.tick(now: start + 20).isEmpty)
        #expect(detector.nextTick == start + 30)
        #expect(detector.tick(now: start + 30).isEmpty)
        #expect(detector.nextTick == start + 32)
        #expect(detector.isEjected(all[1]))
        #expect(detector.tick(now: start + 32) == [.returned(all[1])])
        #expect(!detector.isEjected(all[1]))
        #expect(detector.ejectedCount == 0)
    }

    @Test func repeatOffendersStayOutLongerUpToFiveMinutes() {
        let host = hosts(1)[0]
        var detector = OutlierDetector(config { $0.baseEjectionTime = .seconds(100) }, hosts: [host], now: start)
        var now = start
        var durations: [Double] = []
        for _ in 0..<5 {
            guard case .ejected(_, let until) = fail(&detector, host, 5, at: now) else {
                Issue.record("not ejected")
                return
            }
            durations.append(until - now)
            now = until
            _ = detector.tick(now: now)
        }
        #expect(durations == [100, 200, 300, 300, 300])
    }

    @Test func healthyIntervalsLowerTheMultiplier() {
        let all = hosts(2)
        var detector = OutlierDetector(config(), hosts: all, now: start)
        fail(&detector, all[0], 5, at: start + 1)  // out until +31
        _ = detector.tick(now: start + 31)
        fail(&detector, all[0], 5, at: start + 32)  // second ejection: 60 s, until +92
        #expect(detector.ejectionMultiplier(of: all[0]) == 2)
        _ = detector.tick(now: start + 92)
        #expect(!detector.isEjected(all[0]))
        // The interval ending at +100 is not a full healthy interval since the return at +92.
        _ = detector.tick(now: start + 100)
        #expect(detector.ejectionMultiplier(of: all[0]) == 2)
        _ = detector.tick(now: start + 110)
        #expect(detector.ejectionMultiplier(of: all[0]) == 1)
        // So a third ejection now lasts 2 × 30 s, not 3 × 30 s.
        #expect(fail(&detector, all[0], 5, at: start + 111) == .ejected(all[0], until: start + 171))
        _ = detector.tick(now: start + 171)
        // A long quiet spell forgives everything, one interval at a time.
        _ = detector.tick(now: start + 400)
        #expect(detector.ejectionMultiplier(of: all[0]) == 0)
    }

    @Test func maxEjectionPercentLimitsHowManyAreOut() {
        let ten = hosts(10)
        var detector = OutlierDetector(config(), hosts: ten, now: start)  // 10 %
        #expect(fail(&detector, ten[0], 5, at: start) != nil)
        #expect(fail(&detector, ten[1], 5, at: start) == nil, "a second host would be 20 %")
        #expect(detector.ejectedCount == 1)

        let twenty = hosts(20)
        var larger = OutlierDetector(config(), hosts: twenty, now: start)
        #expect(fail(&larger, twenty[0], 5, at: start) != nil)
        #expect(fail(&larger, twenty[1], 5, at: start) != nil)
        #expect(fail(&larger, twenty[2], 5, at: start) == nil)

        var everything = OutlierDetector(config { $0.maxEjectionPercent = 100 }, hosts: hosts(3), now: start)
        for host in hosts(3) { #expect(fail(&everything, host, 5, at: start) != nil) }
    }

    @Test func oneHostCanAlwaysBeEjected() {
        let three = hosts(3)
        var detector = OutlierDetector(config(), hosts: three, now: start)  // 10 % of 3 is less than one host
        #expect(fail(&detector, three[2], 5, at: start) != nil)
        #expect(fail(&detector, three[1], 5, at: start) == nil)
        _ = detector.tick(now: start + 30)
        #expect(fail(&detector, three[1], 5, at: start + 30) != nil, "once the first is back, another may go")
    }

    @Test func turnedOffWhenBothThresholdsAreZero() {
        let all = hosts(2)
        var detector = OutlierDetector(config { $0.consecutive5xxErrors = 0 }, hosts: all, now: start)
        #expect(!detector.isEnabled)
        #expect(fail(&detector, all[0], 100, with: .status(503), at: start) == nil)
    }

    @Test func newHostListsKeepWhatIsKnown() {
        let all = hosts(4)
        var detector = OutlierDetector(config { $0.maxEjectionPercent = 50 }, hosts: all, now: start)
        fail(&detector, all[0], 5, at: start)
        fail(&detector, all[1], 4, at: start)
        detector.updateHosts(Array(all[1...]) + [HostPort(host: "10.0.0.9", port: 8080)])
        #expect(detector.ejectedCount == 0)
        #expect(detector.hostCount == 4)
        #expect(fail(&detector, all[1], 1, at: start) != nil, "the run of a host that stayed is kept")
        #expect(fail(&detector, all[0], 5, at: start) == nil, "a host that left is not tracked")
    }

    @Test func ejectThenSkipThenReturnThroughTheBalancer() {
        let endpoints = hosts(3).map { Endpoint(address: $0) }
        var detector = OutlierDetector(config(), hosts: endpoints.map(\.address), now: start)
        var balancer = EndpointBalancer(endpoints: endpoints, algorithm: .roundRobin, random: FastRandom(seed: 5))
        fail(&detector, endpoints[0].address, 5, at: start)
        balancer.update(ejected: detector.ejectedHosts)
        for _ in 0..<30 {
            let lease = balancer.pick()!
            #expect(lease.endpoint != endpoints[0])
            balancer.release(lease)
        }
        _ = detector.tick(now: start + 30)
        balancer.update(ejected: detector.ejectedHosts)
        var seen: Set<Endpoint> = []
        for _ in 0..<3 {
            let lease = balancer.pick()!
            seen.insert(lease.endpoint)
            balancer.release(lease)
        }
        #expect(seen == Set(endpoints))
    }
}
