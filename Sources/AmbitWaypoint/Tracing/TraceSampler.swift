/// Where trace ids, span ids, request ids and sampling draws come from. Injected so a test
/// can replay a seeded sequence and assert exact ids and exact sampling decisions.
public protocol TraceRandomSource: Sendable {
    /// 64 uniformly distributed bits.
    func next() -> UInt64
}

/// The operating system's generator (getrandom(2) on Linux), safe to share across threads.
public struct SystemTraceRandom: TraceRandomSource {
    public init() {}

    public func next() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }
}

extension TraceRandomSource {
    /// A span id; never zero, which every format reserves as invalid.
    func nextSpanID() -> SpanID {
        while true {
            let value = next()
            if value != 0 { return SpanID(value) }
        }
    }

    /// A trace id for a request that arrived without one.
    func nextTraceID() -> TraceID {
        while true {
            let id = TraceID(high: next(), low: next())
            if id.isValid { return id }
        }
    }

    /// A random (version 4) UUID in its usual text form, for `x-request-id`.
    func nextRequestID() -> String {
        var high = next()
        var low = next()
        high = (high & ~0xf000) | 0x4000  // version 4
        low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000  // RFC 4122 variant
        let hex = HexDigits.format(high, width: 16) + HexDigits.format(low, width: 16)
        let digits = Array(hex)
        return String(digits[0..<8]) + "-" + String(digits[8..<12]) + "-" + String(digits[12..<16])
            + "-" + String(digits[16..<20]) + "-" + String(digits[20..<32])
    }
}

/// The sampling decision for one request.
///
/// A caller that already decided (W3C's sampled flag, `x-b3-sampled`, B3 debug) is obeyed,
/// both ways: a trace is either whole or absent, never sampled at some hops only. Only a
/// request that left the decision open is sampled at `rate`, Istio's default being 1 %.
public struct TraceSampler: Hashable, Sendable {
    /// Fraction of undecided requests to sample, 0...1.
    public let rate: Double

    public static let defaultRate = 0.01

    /// `rate` outside 0...1 (or NaN) is clamped, so a config typo cannot sample nothing silently
    /// by being negative; validation with a message belongs to the config loader.
    public init(rate: Double = TraceSampler.defaultRate) {
        self.rate = rate.isNaN ? 0 : min(max(rate, 0), 1)
    }

    public func shouldSample(_ incoming: IncomingTrace, random: some TraceRandomSource) -> Bool {
        if let decided = incoming.upstreamSampled { return decided }
        return draw(random)
    }

    /// True with probability `rate`. The bounds skip the draw, so 0 % and 100 % cost nothing.
    func draw(_ random: some TraceRandomSource) -> Bool {
        if rate <= 0 { return false }
        if rate >= 1 { return true }
        // 53 random bits make a uniform double in [0, 1).
        return Double(random.next() >> 11) * 0x1p-53 < rate
    }
}
