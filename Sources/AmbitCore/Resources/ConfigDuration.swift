/// Durations as config files spell them: `500ms`, `1s`, `1m30s`, `1h`, `0s`.
///
/// Gateway API (GEP-2257) and Istio both write durations the way Go's `time.ParseDuration`
/// does, so users copy them between the two without thinking; one parser serves both. Only
/// the units that make sense for network timeouts are accepted (h, m, s, ms): a `ns` or
/// `us` timeout is almost certainly a typo for `ms` and is refused rather than obeyed.
public enum ConfigDuration {
    /// The units, longest spelling first so `ms` is not read as `m` followed by junk.
    private static let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]

    /// The duration `text` spells, or nil when it is not one.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var seconds = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.first != ".", number.last != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.count)
            seconds += value * scale
        }
        // Whole milliseconds: nothing downstream is finer, and it keeps values exact. Past
        // a few centuries a value is a typo, and converting it would trap, so it is refused.
        let ms = (seconds * 1000).rounded()
        guard ms < 1e13 else { return nil }
        return .milliseconds(Int64(ms))
    }

    /// `1m30s`, `500ms`, `0s`: the shortest spelling `parse` reads back to the same value.
    public static func text(_ duration: Duration) -> String {
        var ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000), ("ms", 1)] where ms >= size {
            out += "\(ms / size)\(unit)"
            ms %= size
        }
        return out
    }
}

extension FieldReader {
    /// A duration field; `minimum` refuses values that are set but too small (Istio's
    /// "MUST be >=1ms" fields), while `0s` stays legal where zero means "off".
    public mutating func duration(_ key: String, minimum: Duration? = nil) throws(ResourceError) -> Duration? {
        guard let v = value(key) else { return nil }
        guard case .string(let text) = v else {
            let got = if case .number(let n) = v { "the number \(n) (add a unit: \(n)s)" } else { v.typeName }
            throw ResourceError(path: at(key), reason: "must be a duration such as 500ms, 10s or 1m30s, got \(got)")
        }
        guard let d = ConfigDuration.parse(text) else {
            throw ResourceError(
                path: at(key), reason: "'\(text)' is not a duration: write numbers with units h, m, s or ms, such as 500ms, 10s or 1m30s")
        }
        if let minimum, d < minimum {
            throw ResourceError(path: at(key), reason: "must be at least \(ConfigDuration.text(minimum)), got '\(text)'")
        }
        return d
    }

    /// A field whose value is one of an enum's raw values, with the choices in the error.
    mutating func oneOf<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(ResourceError) -> E?
    where E.RawValue == String {
        guard let text = try string(key) else { return nil }
        return try FieldReader.oneOf(text, E.self, path: at(key))
    }

    static func oneOf<E: RawRepresentable & CaseIterable>(_ text: String, _: E.Type, path: String) throws(ResourceError) -> E
    where E.RawValue == String {
        guard let value = E(rawValue: text) else {
            throw ResourceError(path: path, reason: "must be one of \(E.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
        }
        return value
    }
}
