import NIOConcurrencyHelpers

/// The Prometheus type of a family, as written on its `# TYPE` line.
public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

// MARK: - Families

/// A counter family: one name and help text, one `Counter` per combination of label values.
public final class CounterFamily: Sendable {
    public let name: String
    public let help: String
    public var labelNames: [String] { table.labelNames }
    let table: SeriesTable<Counter>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        table = SeriesTable(name: name, labelNames: labelNames) { Counter() }
    }

    /// The series for these label values (in `labelNames` order), created at zero on first
    /// use. The count must match `labelNames`; a mismatch is a programming error.
    public func labels(_ values: [String] = []) -> Counter { table.series(for: values) }
    /// Drops one series so a workload that left does not stay in the exposition forever.
    /// Handles already held keep working but are no longer exposed.
    @discardableResult public func remove(_ values: [String]) -> Bool { table.remove(values) }
    /// Drops every series whose label values (in `labelNames` order) match; returns how many.
    @discardableResult public func removeAll(where shouldRemove: ([String]) -> Bool) -> Int {
        table.removeAll(where: shouldRemove)
    }
}

/// A gauge family: one name and help text, one `Gauge` per combination of label values.
public final class GaugeFamily: Sendable {
    public let name: String
    public let help: String
    public var labelNames: [String] { table.labelNames }
    let table: SeriesTable<Gauge>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        table = SeriesTable(name: name, labelNames: labelNames) { Gauge() }
    }

    /// The series for these label values (in `labelNames` order), created at zero on first use.
    public func labels(_ values: [String] = []) -> Gauge { table.series(for: values) }
    /// Drops one series; handles already held keep working but are no longer exposed.
    @discardableResult public func remove(_ values: [String]) -> Bool { table.remove(values) }
    /// Drops every series whose label values (in `labelNames` order) match; returns how many.
    @discardableResult public func removeAll(where shouldRemove: ([String]) -> Bool) -> Int {
        table.removeAll(where: shouldRemove)
    }
}

/// A histogram family: one name, help text and bucket layout, one `Histogram` per
/// combination of label values.
public final class HistogramFamily: Sendable {
    public let name: String
    public let help: String
    /// Upper bounds shared by every series, strictly increasing, without `+Inf`.
    public let buckets: [Double]
    public var labelNames: [String] { table.labelNames }
    let table: SeriesTable<Histogram>

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.buckets = buckets
        table = SeriesTable(name: name, labelNames: labelNames) { Histogram(upperBounds: buckets) }
    }

    /// The series for these label values (in `labelNames` order), created empty on first use.
    public func labels(_ values: [String] = []) -> Histogram { table.series(for: values) }
    /// Drops one series; handles already held keep working but are no longer exposed.
    @discardableResult public func remove(_ values: [String]) -> Bool { table.remove(values) }
    /// Drops every series whose label values (in `labelNames` order) match; returns how many.
    @discardableResult public func removeAll(where shouldRemove: ([String]) -> Bool) -> Int {
        table.removeAll(where: shouldRemove)
    }
}

// MARK: - What the registry sees

/// The registry holds families of three types in one table; this is what it needs from each.
protocol RegisteredFamily: AnyObject, Sendable {
    var name: String { get }
    var help: String { get }
    var kind: MetricKind { get }
    var labelNames: [String] { get }
    func render(into output: inout String)
    func removeAll(where shouldRemove: ([String]) -> Bool) -> Int
}

extension CounterFamily: RegisteredFamily {
    var kind: MetricKind { .counter }
    func render(into output: inout String) { table.render(help: help, kind: kind, into: &output) }
}

extension GaugeFamily: RegisteredFamily {
    var kind: MetricKind { .gauge }
    func render(into output: inout String) { table.render(help: help, kind: kind, into: &output) }
}

extension HistogramFamily: RegisteredFamily {
    var kind: MetricKind { .histogram }
    func render(into output: inout String) { table.render(help: help, kind: kind, into: &output) }
}

// MARK: - Series table

/// The series of one family keyed by label values, shared by the three family types.
final class SeriesTable<Series: RenderableSeries>: Sendable {
    let name: String
    let labelNames: [String]
    private let makeSeries: @Sendable () -> Series
    private let storage = NIOLockedValueBox<[[String]: Series]>([:])

    init(name: String, labelNames: [String], makeSeries: @escaping @Sendable () -> Series) {
        self.name = name
        self.labelNames = labelNames
        self.makeSeries = makeSeries
        // A family without labels has exactly one series; create it now so it is exposed
        // at zero before the first event, as Prometheus client libraries do.
        if labelNames.isEmpty { _ = series(for: []) }
    }

    func series(for values: [String]) -> Series {
        precondition(
            values.count == labelNames.count,
            "metric '\(name)' has labels \(labelNames) but was given \(values.count) value(s) \(values); pass one value per label, in that order"
        )
        return storage.withLockedValue { table in
            if let existing = table[values] { return existing }
            let created = makeSeries()
            table[values] = created
            return created
        }
    }

    func remove(_ values: [String]) -> Bool {
        storage.withLockedValue { $0.removeValue(forKey: values) != nil }
    }

    func removeAll(where shouldRemove: ([String]) -> Bool) -> Int {
        storage.withLockedValue { table in
            let doomed = table.keys.filter(shouldRemove)
            for key in doomed { table.removeValue(forKey: key) }
            return doomed.count
        }
    }

    /// Appends HELP, TYPE and every series sorted by label values. A family with no series
    /// is left out entirely, like the Prometheus client libraries do for empty vectors.
    func render(help: String, kind: MetricKind, into output: inout String) {
        // Copy out under the lock, render outside it: formatting is the slow part and must
        // not stall the data plane's increments.
        let entries = storage.withLockedValue { Array($0) }
        guard !entries.isEmpty else { return }
        output += "# HELP \(name) \(PrometheusText.escapeHelp(help))\n"
        output += "# TYPE \(name) \(kind.rawValue)\n"
        for (values, one) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            one.render(name: name, labels: PrometheusText.labelPairs(names: labelNames, values: values), into: &output)
        }
    }
}
