/// `ConfigValue` as canonical JSON text, and strict JSON back to `ConfigValue`.
///
/// Canonical means one spelling per value: map keys sorted by their UTF-8 bytes, no
/// whitespace, numbers in JSON grammar, and only the escapes JSON requires (plus the
/// characters YAML refuses to read raw). Equal documents therefore have equal bytes, which
/// the store relies on for checksums and a diff of two snapshots stays small.
///
/// The output is also valid YAML, so `ConfigParser` reads it back to the same value. The
/// store, the push (resource bodies and their versions) and the CLI all encode through
/// here, so one document has one spelling everywhere.
public enum CanonicalJSON {
    /// The same value with map keys sorted (recursively) and every number spelled as JSON.
    public static func canonical(_ value: ConfigValue) -> ConfigValue {
        switch value {
        case .map(let pairs):
            return .map(pairs.map { ($0.0, canonical($0.1)) }.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
        case .list(let items):
            return .list(items.map(canonical))
        case .number(let text):
            return canonicalNumber(text)
        case .string, .bool, .null:
            return value
        }
    }

    /// YAML spells numbers JSON cannot (`+80`, `.5`, `0x1F`, `1_000` in YAML 1.1); those are
    /// rewritten to the same number in JSON. A non-finite one (`-.inf`) has no JSON number,
    /// so it is kept as a string rather than written as text JSON readers would refuse.
    static func canonicalNumber(_ text: String) -> ConfigValue {
        if isJSONNumber(text.utf8) { return .number(text) }
        if let n = Int(text) { return .number(String(n)) }
        // Swift spells every finite Double in JSON grammar (`0.5`, `1e-05`, `1e+20`).
        if let d = Double(text), d.isFinite { return .number(d.description) }
        return .string(text)
    }

    /// Compact text of `value`, which should already be `canonical` (the store's documents are).
    public static func encode(_ value: ConfigValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// Appends the compact text of `value` to `out` (for writers that build larger texts).
    public static func write(_ value: ConfigValue, into out: inout String) {
        switch value {
        case .string(let s): JSON.quote(s, into: &out, yamlSafe: true)
        case .number(let n): out += n
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .list(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .map(let pairs):
            out += "{"
            for (i, (key, item)) in pairs.enumerated() {
                if i > 0 { out += "," }
                JSON.quote(key, into: &out, yamlSafe: true)
                out += ":"
                write(item, into: &out)
            }
            out += "}"
        }
    }

    /// RFC 8259 number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    public static func isJSONNumber(_ text: String.UTF8View) -> Bool {
        var bytes = text.makeIterator()
        var c = bytes.next()
        func digits(_ c: inout UInt8?, _ bytes: inout String.UTF8View.Iterator) -> Int {
            var count = 0
            while let d = c, d >= 0x30, d <= 0x39 {
                count += 1
                c = bytes.next()
            }
            return count
        }
        if c == UInt8(ascii: "-") { c = bytes.next() }
        if c == UInt8(ascii: "0") {
            c = bytes.next()
        } else {
            guard let d = c, d >= 0x31, d <= 0x39 else { return false }
            _ = digits(&c, &bytes)
        }
        if c == UInt8(ascii: ".") {
            c = bytes.next()
            guard digits(&c, &bytes) > 0 else { return false }
        }
        if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            c = bytes.next()
            if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { c = bytes.next() }
            guard digits(&c, &bytes) > 0 else { return false }
        }
        return c == nil
    }
}
