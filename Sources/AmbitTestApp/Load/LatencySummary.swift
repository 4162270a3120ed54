// Percentiles of recorded latencies, nearest rank, as the benchmark tables report them.

public struct LatencySummary: Sendable, Equatable {
    public var count: Int
    /// Microseconds.
    public var p50: Double, p90: Double, p99: Double, p999: Double, max: Double, mean: Double

    /// `nanoseconds` need not be sorted. An empty input gives zeros.
    public init(nanoseconds samples: [UInt64]) {
        count = samples.count
        guard !samples.isEmpty else {
            p50 = 0; p90 = 0; p99 = 0; p999 = 0; max = 0; mean = 0
            return
        }
        let sorted = samples.sorted()
        func rank(_ q: Double) -> Double {
            // Nearest rank: the smallest value with at least q of the samples at or below it.
            let r = Int((q * Double(sorted.count)).rounded(.up))
            return Double(sorted[Swift.max(0, Swift.min(sorted.count - 1, r - 1))]) / 1000
        }
        p50 = rank(0.50)
        p90 = rank(0.90)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = Double(sorted[sorted.count - 1]) / 1000
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000
    }
}
