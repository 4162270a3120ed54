import AmbitCore

/// Renders a config value as block-style YAML, quoting only where YAML would otherwise
/// read a string as something else. For `ambit get -o yaml`.
enum YAMLText {
    static func render(_ value: ConfigValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out, inline: false)
        return out
    }

    private static func write(_ value: ConfigValue, indent: Int, into out: inout String, inline: Bool) {
        let pad = String(repeating: "  ", count: indent)
        switch value {
        case .map(let pairs):
            if pairs.isEmpty { out += "{}\n"; return }
            if inline { out += "\n" }
            for (k, v) in pairs {
                out += pad + scalar(k) + ":"
                if case .map(let p) = v, !p.isEmpty { write(v, indent: indent + 1, into: &out, inline: true) }
                else if case .list(let l) = v, !l.isEmpty { out += "\n"; write(v, indent: indent, into: &out, inline: false) }
                else { out += " "; write(v, indent: indent + 1, into: &out, inline: false) }
            }
        case .list(let items):
            if items.isEmpty { out += "[]\n"; return }
            for item in items {
                out += pad + "-"
                if case .map(let p) = item, !p.isEmpty {
                    var nested = ""
                    write(item, indent: indent + 1, into: &nested, inline: false)
                    out += " " + nested.dropFirst(pad.count + 2)
                } else {
                    out += " "
                    write(item, indent: indent + 1, into: &out, inline: false)
                }
            }
        case .string(let s): out += scalar(s) + "\n"
        case .number(let s): out += s + "\n"
        case .bool(let b): out += (b ? "true" : "false") + "\n"
        case .null: out += "null\n"
        }
    }

    /// Plain when safe, double-quoted JSON-style otherwise.
    static func scalar(_ s: String) -> String {
        let special: Set<Character> = [":", "#", "{", "}", "[", "]", ",", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`", "\n", "\t"]
        let reserved = ["true", "false", "null", "yes", "no", "on", "off", "~", ""]
        let looksNumeric = Double(s) != nil
        if s.contains(where: { special.contains($0) }) || reserved.contains(s.lowercased()) || looksNumeric || s.hasPrefix(" ")
            || s.hasSuffix(" ") || s.hasPrefix("-") || s.hasPrefix("?")
        {
            return JSON.string(s).text
        }
        return s
    }
}
