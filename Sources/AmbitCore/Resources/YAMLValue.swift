import Yams

/// A parsed config value: what YAML and JSON have in common. Documents are turned into
/// these first, so the decoders below never see YAML tags, anchors or styles, and JSON
/// input needs no separate path.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case list([ConfigValue])
    case map([(String, ConfigValue)])

    public static func == (a: ConfigValue, b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)), (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        case (.list(let x), .list(let y)): return x == y
        case (.map(let x), .map(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    var typeName: String {
        switch self {
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        case .list: "a list"
        case .map: "a map"
        }
    }
}

/// Splits a YAML or JSON stream into documents of `ConfigValue`.
public enum ConfigParser {
    /// Upper bound on values per document. Aliases let a few lines of YAML stand for
    /// billions of values (the "billion laughs"); counting while converting stops that
    /// before it costs memory or time.
    public static let maximumValues = 100_000

    public static func documents(_ text: String, file: String) throws(ResourceError) -> [ConfigValue] {
        var nodes: [Node] = []
        do {
            // Iterated by hand: the sequence ends quietly at a syntax error and keeps the
            // error aside, so `Array(...)` would drop the rest of the file without a word.
            var sequence = try Yams.compose_all(yaml: text)
            while let node = sequence.next() { nodes.append(node) }
            if let error = sequence.error { throw error }
        } catch YamlError.duplicatedKeysInMapping(let keys, let context) {
            // Yams' own message quotes the whole file; say which key and where instead.
            let names = keys.map { "'\($0)'" }.joined(separator: ", ")
            throw ResourceError(
                file: file, path: "",
                reason: "line \(context.mark.line), column \(context.mark.column): the key \(names) appears twice in one map")
        } catch {
            throw ResourceError(file: file, path: "", reason: "not valid YAML or JSON: \(error)")
        }
        var out: [ConfigValue] = []
        for (index, node) in nodes.enumerated() {
            var budget = maximumValues
            do { out.append(try convert(node, budget: &budget)) } catch {
                throw ResourceError(file: file, document: index + 1, path: "", reason: error.reason)
            }
        }
        return out
    }

    private static func convert(_ node: Node, budget: inout Int) throws(ResourceError) -> ConfigValue {
        budget -= 1
        if budget < 0 {
            throw ResourceError(
                path: "",
                reason: "the document expands to more than \(maximumValues) values (YAML aliases?); split it or write it out without anchors")
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                let s = scalar.string
                switch s {
                case "true", "True", "TRUE": return .bool(true)
                case "false", "False", "FALSE": return .bool(false)
                case "null", "Null", "NULL", "~", "": return .null
                default:
                    if Double(s) != nil, s.first.map({ $0.isNumber || $0 == "-" || $0 == "+" || $0 == "." }) == true {
                        return .number(s)
                    }
                }
            }
            return .string(scalar.string)
        case .sequence(let seq):
            var items: [ConfigValue] = []
            for item in seq { items.append(try convert(item, budget: &budget)) }
            return .list(items)
        case .mapping(let mapping):
            var pairs: [(String, ConfigValue)] = []
            var seen: Set<String> = []
            for (k, v) in mapping {
                guard case .scalar(let key) = k else {
                    throw ResourceError(path: "", reason: "map keys must be plain strings")
                }
                guard seen.insert(key.string).inserted else {
                    throw ResourceError(path: key.string, reason: "the key appears twice")
                }
                pairs.append((key.string, try convert(v, budget: &budget)))
            }
            return .map(pairs)
        case .alias:
            throw ResourceError(path: "", reason: "unresolved YAML alias")
        }
    }
}
