import NIOConcurrencyHelpers

/// Every metric a daemon exposes, by family name, and their Prometheus text exposition.
///
/// Register a family once at start-up and keep it; hot paths should also keep the series
/// handle they get from `labels(_:)`:
///
/// ```swift
/// let opened = registry.counter(
///     "istio_tcp_connections_opened_total", help: "Connections opened.",
///     labels: ["reporter", "source_workload", "destination_workload"])
/// let series = opened.labels(["destination", "client", "server"])
/// series.increment()
/// ```
///
/// Registering a name again with the same type, labels (and buckets) returns the family
/// already there, so two components may ask for the same metric. Registering it with a
/// different shape is a programming error and stops the process with a message naming both.
public final class MetricsRegistry: Sendable {
    private let families = NIOLockedValueBox<[String: any RegisteredFamily]>([:])

    public init() {}

    // MARK: - Registration

    /// A counter family. Counter names conventionally end in `_total`.
    public func counter(_ name: String, help: String, labels: [String] = []) -> CounterFamily {
        register(name, kind: .counter, labels: labels, describe: "") {
            CounterFamily(name: name, help: help, labelNames: labels)
        }
    }

    /// A gauge family.
    public func gauge(_ name: String, help: String, labels: [String] = []) -> GaugeFamily {
        register(name, kind: .gauge, labels: labels, describe: "") {
            GaugeFamily(name: name, help: help, labelNames: labels)
        }
    }

    /// A histogram family with explicit bucket upper bounds (strictly increasing, finite;
    /// `+Inf` is always added). Defaults to Istio's duration buckets in milliseconds.
    public func histogram(
        _ name: String, help: String, labels: [String] = [],
        buckets: [Double] = HistogramBuckets.istioDurationMilliseconds
    ) -> HistogramFamily {
        let bounds = buckets.last == .infinity ? Array(buckets.dropLast()) : buckets
        precondition(
            !bounds.isEmpty && bounds.allSatisfy(\.isFinite) && zip(bounds, bounds.dropFirst()).allSatisfy { $0 < $1 },
            "histogram '\(name)' needs finite, strictly increasing bucket bounds; got \(buckets)")
        precondition(!labels.contains("le"), "histogram '\(name)' cannot have a label named 'le': Prometheus uses it for buckets")
        let family = register(name, kind: .histogram, labels: labels, describe: " and buckets \(bounds)") {
            HistogramFamily(name: name, help: help, labelNames: labels, buckets: bounds)
        }
        precondition(
            family.buckets == bounds,
            "histogram '\(name)' is already registered with buckets \(family.buckets), not \(bounds); register it once and share the family")
        return family
    }

    private func register<Family: RegisteredFamily>(
        _ name: String, kind: MetricKind, labels: [String], describe: String, make: () -> Family
    ) -> Family {
        precondition(PrometheusText.isValidMetricName(name), "'\(name)' is not a valid metric name: use [a-zA-Z_:][a-zA-Z0-9_:]*")
        for label in labels {
            precondition(
                PrometheusText.isValidLabelName(label),
                "metric '\(name)': '\(label)' is not a valid label name: use [a-zA-Z_][a-zA-Z0-9_]* without a leading __")
        }
        precondition(Set(labels).count == labels.count, "metric '\(name)' lists a label twice: \(labels)")
        return families.withLockedValue { table in
            if let existing = table[name] {
                guard let same = existing as? Family, existing.labelNames == labels else {
                    preconditionFailure(
                        "metric '\(name)' is already registered as a \(existing.kind.rawValue) with labels \(existing.labelNames); "
                            + "cannot register it again as a \(kind.rawValue) with labels \(labels)\(describe). "
                            + "Register each metric once and share the family, or pick another name.")
                }
                return same
            }
            let created = make()
            table[name] = created
            return created
        }
    }

    // MARK: - Series clean-up

    /// Drops, in every family that has label `label`, the series where it equals `value`;
    /// returns how many series went. For a workload that left the node, call it once per
    /// label that can name the workload (e.g. `source_workload`, `destination_workload`).
    @discardableResult
    public func removeSeries(whereLabel label: String, equals value: String) -> Int {
        let all = families.withLockedValue { Array($0.values) }
        var removed = 0
        for family in all {
            guard let index = family.labelNames.firstIndex(of: label) else { continue }
            removed += family.removeAll { $0[index] == value }
        }
        return removed
    }

    // MARK: - Exposition

    /// The Prometheus text exposition (format 0.0.4) of every family that has at least one
    /// series: families sorted by name, series by label values, so the output is
    /// deterministic and diffable.
    public func exposition() -> String {
        let all = families.withLockedValue { $0.values.sorted { $0.name < $1.name } }
        var output = ""
        for family in all { family.render(into: &output) }
        return output
    }

    /// The Content-Type to serve `exposition()` with.
    public static let expositionContentType = PrometheusText.contentType
}
