/// The Prometheus text exposition format, version 0.0.4: escaping, number formatting and
/// name rules. Kept apart from the registry so the format's rules sit in one place.
///
/// Reference: https://prometheus.io/docs/instrumenting/exposition_formats/
enum PrometheusText {
    /// The Content-Type a scraper expects for this format.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    // MARK: - Samples

    static func appendSample(name: String, labels: String, value: String, into output: inout String) {
        output += name
        if !labels.isEmpty {
            output += "{"
            output += labels
            output += "}"
        }
        output += " "
        output += value
        output += "\n"
    }

    /// `a="x",b="y"` for one series, values escaped; empty when there are no labels.
    static func labelPairs(names: [String], values: [String]) -> String {
        var result = ""
        for (index, name) in names.enumerated() {
            if index > 0 { result += "," }
            result += name
            result += "=\""
            result += escapeLabelValue(values[index])
            result += "\""
        }
        return result
    }

    // MARK: - Escaping

    /// Label values escape backslash, double quote and line feed; anything else (including
    /// any UTF-8) is written as is.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return value }
        var result = ""
        result.reserveCapacity(value.utf8.count + 8)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// HELP text escapes only backslash and line feed (a quote is literal there).
    static func escapeHelp(_ help: String) -> String {
        guard help.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\n") }) else { return help }
        var result = ""
        for scalar in help.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    // MARK: - Numbers

    /// A float as Prometheus (Go's ParseFloat) reads it: `+Inf`, `-Inf`, `NaN`, whole
    /// numbers without a trailing `.0` (so bucket bounds read `le="1000"`), otherwise the
    /// shortest representation that round-trips.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        // Below 2^53 every whole double is an exact Int64, so the conversion loses nothing.
        if value == value.rounded(.towardZero), abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        return value.description
    }

    // MARK: - Names

    /// Metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetterOrUnderscore(first) || first == UInt8(ascii: ":") else { return false }
        return name.utf8.allSatisfy { isLetterOrUnderscore($0) || isDigit($0) || $0 == UInt8(ascii: ":") }
    }

    /// Label names: `[a-zA-Z_][a-zA-Z0-9_]*`, and the `__` prefix is reserved for Prometheus.
    static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, isLetterOrUnderscore(first), !name.hasPrefix("__") else { return false }
        return name.utf8.allSatisfy { isLetterOrUnderscore($0) || isDigit($0) }
    }

    private static func isLetterOrUnderscore(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_")
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
