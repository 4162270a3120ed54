import AmbitCore

/// `ConfigValue` as canonical JSON text, and strict JSON back to `ConfigValue`.
///
/// Canonical means one spelling per value: map keys sorted by their UTF-8 bytes, no
/// whitespace, numbers in JSON grammar, and only the escapes JSON requires (plus the
/// characters YAML refuses to read raw). Equal documents therefore have equal bytes, which
/// the store relies on for checksums and a diff of two snapshots stays small.
///
/// The output is also valid YAML, so `ConfigParser` reads it back to the same value; the
/// store itself uses `parse` below, which is strict, several times faster than going
/// through YAML, and has no per-document value budget (a snapshot holds every resource).
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

    static func write(_ value: ConfigValue, into out: inout String) {
        switch value {
        case .string(let s): quote(s, into: &out)
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
                quote(key, into: &out)
                out += ":"
                write(item, into: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // Controls must be escaped for JSON; DEL, the C1 controls, the byte-order mark
                // and the two non-characters are legal JSON but YAML refuses them raw.
                let v = scalar.value
                if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xFEFF || v == 0xFFFE || v == 0xFFFF {
                    let hex = String(v, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// RFC 8259 number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    static func isJSONNumber(_ text: String.UTF8View) -> Bool {
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

    /// Parses one JSON value (strict RFC 8259: no comments, no trailing commas, no
    /// duplicate keys). Numbers keep their text, so nothing is rounded on the way through.
    public static func parse(_ text: String) throws(JSONParseError) -> ConfigValue {
        try parse(Array(text.utf8)[...])
    }

    public static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONParseError) -> ConfigValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.document()
    }
}

/// Why `CanonicalJSON.parse` refused its input, with the byte offset it got to.
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
