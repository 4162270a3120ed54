/// The samples of a Prometheus text exposition, enough for a test to sum a counter over
/// the series whose labels it cares about.
public struct PrometheusSamples: Sendable {
    public struct Sample: Sendable, CustomStringConvertible {
        public let name: String
        public let labels: [String: String]
        public let value: Double
        public var description: String { "\(name)\(labels.sorted { $0.key < $1.key }) \(value)" }
    }

    public let samples: [Sample]

    public init(_ text: String) {
        samples = text.split(separator: "\n").compactMap { Self.parse(Substring($0)) }
    }

    /// Sum of `name`'s samples whose labels include every pair of `labels`.
    public func sum(_ name: String, where labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    /// Metric names present.
    public var names: Set<String> { Set(samples.map(\.name)) }

    static func parse(_ line: Substring) -> Sample? {
        guard let first = line.first, first != "#" else { return nil }
        var name = ""
        var labels: [String: String] = [:]
        var i = line.startIndex
        while i < line.endIndex, line[i] != "{", line[i] != " " {
            name.append(line[i])
            i = line.index(after: i)
        }
        if i < line.endIndex, line[i] == "{" {
            i = line.index(after: i)
            while i < line.endIndex, line[i] != "}" {
                var key = ""
                while i < line.endIndex, line[i] != "=" { key.append(line[i]); i = line.index(after: i) }
                guard i < line.endIndex else { return nil }
                i = line.index(i, offsetBy: 2)  // `="`
                var value = ""
                while i < line.endIndex, line[i] != "\"" {
                    if line[i] == "\\" { i = line.index(after: i) }
                    if i < line.endIndex { value.append(line[i]); i = line.index(after: i) }
                }
                labels[key.trimmingPrefix(",").trimmingPrefix(" ").description] = value
                if i < line.endIndex { i = line.index(after: i) }  // closing quote
                if i < line.endIndex, line[i] == "," { i = line.index(after: i) }
            }
            if i < line.endIndex { i = line.index(after: i) }  // `}`
        }
        let rest = line[i...].split(separator: " ")
        guard let text = rest.first, let value = Double(text) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}
