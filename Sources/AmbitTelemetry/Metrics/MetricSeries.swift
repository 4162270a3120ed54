import NIOConcurrencyHelpers

// MARK: - Series handles

/// One counter series: a value that only goes up (connections opened, bytes sent).
///
/// Get it once from `CounterFamily.labels(_:)` and keep it: incrementing a cached handle is
/// one uncontended lock, while `labels(_:)` hashes the label values every time.
public final class Counter: Sendable {
    private let count = NIOLockedValueBox(0)

    init() {}

    /// Adds `amount`. Counters never go down, so a negative amount is a bug in the caller:
    /// debug builds stop on it, release builds ignore it rather than corrupt the series.
    public func increment(by amount: Int = 1) {
        assert(amount >= 0, "a counter cannot go down (increment by \(amount)); use a gauge for values that fall")
        guard amount > 0 else { return }
        // Wrapping add: a counter that overflows Int64 is better than a crashed data plane.
        count.withLockedValue { $0 &+= amount }
    }

    /// The current total.
    public var value: Int { count.withLockedValue { $0 } }
}

/// One gauge series: a value that goes up and down (open connections, ready workloads).
public final class Gauge: Sendable {
    private let current = NIOLockedValueBox(0.0)

    init() {}

    public func set(_ value: Double) { current.withLockedValue { $0 = value } }
    public func add(_ delta: Double) { current.withLockedValue { $0 += delta } }
    public func increment() { add(1) }
    public func decrement() { add(-1) }

    /// The current value.
    public var value: Double { current.withLockedValue { $0 } }
}

/// One histogram series: observations counted into fixed buckets, plus their sum and count
/// (for example request durations in milliseconds).
public final class Histogram: Sendable {
    /// The upper bounds, strictly increasing, without `+Inf` (which is implicit).
    public let upperBounds: [Double]

    struct State: Sendable {
        /// Non-cumulative: `bucketCounts[i]` counts observations in (bound[i-1], bound[i]];
        /// the last slot is the implicit +Inf bucket. Cumulated only when exposed, so an
        /// observation touches one slot instead of many.
        var bucketCounts: [Int]
        var sum = 0.0
        var count = 0
    }

    private let state: NIOLockedValueBox<State>

    init(upperBounds: [Double]) {
        self.upperBounds = upperBounds
        state = NIOLockedValueBox(State(bucketCounts: Array(repeating: 0, count: upperBounds.count + 1)))
    }

    /// Records one observation. Prometheus buckets are "less than or equal", so a value
    /// equal to a bound lands in that bound's bucket.
    public func observe(_ value: Double) {
        let index = bucketIndex(for: value)
        state.withLockedValue {
            $0.bucketCounts[index] += 1
            $0.sum += value
            $0.count += 1
        }
    }

    /// Binary search for the first bound >= value; NaN and values past the last bound land
    /// in +Inf.
    private func bucketIndex(for value: Double) -> Int {
        var low = 0
        var high = upperBounds.count
        while low < high {
            let mid = (low + high) / 2
            if upperBounds[mid] >= value { high = mid } else { low = mid + 1 }
        }
        return value.isNaN ? upperBounds.count : low
    }

    /// Number of observations so far.
    public var count: Int { state.withLockedValue { $0.count } }
    /// Sum of all observations so far.
    public var sum: Double { state.withLockedValue { $0.sum } }

    /// Cumulative counts per upper bound, ending with `+Inf` (whose count equals `count`),
    /// taken under one lock so the buckets, sum and count agree with each other.
    public var cumulativeBuckets: [(upperBound: Double, count: Int)] {
        let snapshot = self.snapshot()
        var running = 0
        var result: [(upperBound: Double, count: Int)] = []
        result.reserveCapacity(snapshot.bucketCounts.count)
        for (index, bucketCount) in snapshot.bucketCounts.enumerated() {
            running += bucketCount
            result.append((index < upperBounds.count ? upperBounds[index] : .infinity, running))
        }
        return result
    }

    func snapshot() -> State { state.withLockedValue { $0 } }
}

/// Istio's standard bucket layouts, so dashboards built for Istio read Ambit's histograms.
public enum HistogramBuckets {
    /// Istio's default duration buckets, in milliseconds (`istio_request_duration_milliseconds`).
    public static let istioDurationMilliseconds: [Double] = [
        0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
        1_800_000, 3_600_000,
    ]
    /// Istio's default size buckets, in bytes (`istio_request_bytes`, `istio_response_bytes`).
    public static let istioBytes: [Double] = [1, 10, 100, 1000, 10000, 100_000, 1_000_000, 10_000_000]
}

// MARK: - Rendering

/// What every series type can do for the exposition. Internal: callers only see the typed
/// handles above.
protocol RenderableSeries: AnyObject, Sendable {
    /// Appends this series' sample lines. `labels` is the rendered `a="x",b="y"` list for
    /// the series (empty when the family has no labels).
    func render(name: String, labels: String, into output: inout String)
}

extension Counter: RenderableSeries {
    func render(name: String, labels: String, into output: inout String) {
        PrometheusText.appendSample(name: name, labels: labels, value: String(value), into: &output)
    }
}

extension Gauge: RenderableSeries {
    func render(name: String, labels: String, into output: inout String) {
        PrometheusText.appendSample(name: name, labels: labels, value: PrometheusText.format(value), into: &output)
    }
}

extension Histogram: RenderableSeries {
    func render(name: String, labels: String, into output: inout String) {
        let snapshot = self.snapshot()
        let separator = labels.isEmpty ? "" : ","
        var running = 0
        for (index, bucketCount) in snapshot.bucketCounts.enumerated() {
            running += bucketCount
            let bound = index < upperBounds.count ? PrometheusText.format(upperBounds[index]) : "+Inf"
            PrometheusText.appendSample(
                name: name + "_bucket", labels: labels + separator + "le=\"\(bound)\"", value: String(running),
                into: &output)
        }
        PrometheusText.appendSample(name: name + "_sum", labels: labels, value: PrometheusText.format(snapshot.sum), into: &output)
        PrometheusText.appendSample(name: name + "_count", labels: labels, value: String(snapshot.count), into: &output)
    }
}
