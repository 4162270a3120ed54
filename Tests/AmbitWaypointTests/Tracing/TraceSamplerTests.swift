@testable import AmbitWaypoint
import Testing

@Suite("Sampling")
struct TraceSamplerTests {
    @Test func anUpstreamDecisionIsObeyedWhateverTheRate() {
        let random = SeededTraceRandom(seed: 1)
        let sampled = IncomingTrace(upstreamSampled: true)
        let unsampled = IncomingTrace(upstreamSampled: false)
        #expect(TraceSampler(rate: 0).shouldSample(sampled, random: random))
        #expect(!TraceSampler(rate: 1).shouldSample(unsampled, random: random))
        #expect(random.drawCount == 0)
    }

    @Test func ratesZeroAndOneNeedNoDraw() {
        let random = SeededTraceRandom(seed: 1)
        for _ in 0..<100 {
            #expect(!TraceSampler(rate: 0).shouldSample(IncomingTrace(), random: random))
            #expect(TraceSampler(rate: 1).shouldSample(IncomingTrace(), random: random))
        }
        #expect(random.drawCount == 0)
    }

    @Test func theDefaultIsOnePercent() {
        #expect(TraceSampler().rate == 0.01)
        #expect(TraceSampler(rate: -3).rate == 0)
        #expect(TraceSampler(rate: 7).rate == 1)
        #expect(TraceSampler(rate: .nan).rate == 0)
    }

    @Test(arguments: [0.01, 0.25, 0.9])
    func undecidedRequestsAreSampledAtTheRate(_ rate: Double) {
        let sampler = TraceSampler(rate: rate)
        let random = SeededTraceRandom(seed: 42)
        let draws = 20_000
        var sampled = 0
        for _ in 0..<draws where sampler.shouldSample(IncomingTrace(), random: random) { sampled += 1 }
        // Binomial: 5 standard deviations either side, so a correct sampler cannot flake
        // and a sampler off by a fifth of the rate (or ignoring it) cannot pass.
        let expected = Double(draws) * rate
        let tolerance = 5 * (Double(draws) * rate * (1 - rate)).squareRoot()
        #expect(abs(Double(sampled) - expected) <= tolerance, "sampled \(sampled) of \(draws) at rate \(rate)")
        #expect(random.drawCount == draws)
    }

    @Test func theSameSeedGivesTheSameDecisions() {
        let sampler = TraceSampler(rate: 0.3)
        func decisions(_ seed: UInt64) -> [Bool] {
            let random = SeededTraceRandom(seed: seed)
            return (0..<64).map { _ in sampler.shouldSample(IncomingTrace(), random: random) }
        }
        #expect(decisions(7) == decisions(7))
        #expect(decisions(7) != decisions(8))
    }

    @Test func generatedIDsAreValidAndRequestIDsAreVersion4UUIDs() {
        let random = SeededTraceRandom(seed: 3)
        for _ in 0..<200 {
            #expect(random.nextSpanID().isValid)
            #expect(random.nextTraceID().isValid)
            let uuid = Array(random.nextRequestID())
            #expect(uuid.count == 36)
            #expect([uuid[8], uuid[13], uuid[18], uuid[23]] == ["-", "-", "-", "-"])
            #expect(uuid[14] == "4")
            #expect("89ab".contains(uuid[19]))
        }
    }
}
