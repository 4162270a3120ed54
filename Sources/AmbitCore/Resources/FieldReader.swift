/// Strict reading of one map of a config document, with the field path kept for errors.
///
/// Every field is asked for by name; `finish()` then refuses any field nobody asked for, so
/// a typo (`selektor:`) is an error rather than a silently ignored setting.
public struct FieldReader {
    public let path: String
    private let pairs: [(String, ConfigValue)]
    private var used: Set<String> = []

    public init(_ value: ConfigValue, path: String) throws(ResourceError) {
        guard case .map(let pairs) = value else {
            throw ResourceError(path: path, reason: "must be a map, got \(value.typeName)")
        }
        self.path = path
        self.pairs = pairs
    }

    public static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public func at(_ key: String) -> String { Self.join(path, key) }

    public mutating func value(_ key: String) -> ConfigValue? {
        used.insert(key)
        guard let v = pairs.first(where: { $0.0 == key })?.1 else { return nil }
        if case .null = v { return nil }
        return v
    }

    public mutating func string(_ key: String) throws(ResourceError) -> String? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s): return s
        default: throw ResourceError(path: at(key), reason: "must be a string, got \(v.typeName)")
        }
    }

    public mutating func requiredString(_ key: String) throws(ResourceError) -> String {
        guard let s = try string(key), !s.isEmpty else { throw ResourceError(path: at(key), reason: "is required") }
        return s
    }

    public mutating func int(_ key: String, range: ClosedRange<Int>) throws(ResourceError) -> Int? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, let n = Int(text) else {
            let got = if case .number(let text) = v { text } else { v.typeName }
            throw ResourceError(path: at(key), reason: "must be a whole number, got \(got)")
        }
        guard range.contains(n) else {
            throw ResourceError(path: at(key), reason: "must be from \(range.lowerBound) to \(range.upperBound), got \(n)")
        }
        return n
    }

    public mutating func bool(_ key: String) throws(ResourceError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw ResourceError(path: at(key), reason: "must be true or false, got \(v.typeName)") }
        return b
    }

    public mutating func stringList(_ key: String) throws(ResourceError) -> [String] {
        guard let v = value(key) else { return [] }
        guard case .list(let items) = v else { throw ResourceError(path: at(key), reason: "must be a list, got \(v.typeName)") }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            switch item {
            case .string(let s): out.append(s)
            case .number(let s): out.append(s)
            default: throw ResourceError(path: "\(at(key))[\(i)]", reason: "must be a string, got \(item.typeName)")
            }
        }
        return out
    }

    public mutating func stringMap(_ key: String) throws(ResourceError) -> [String: String] {
        guard let v = value(key) else { return [:] }
        guard case .map(let pairs) = v else { throw ResourceError(path: at(key), reason: "must be a map, got \(v.typeName)") }
        var out: [String: String] = [:]
        for (k, item) in pairs {
            switch item {
            case .string(let s), .number(let s): out[k] = s
            case .bool(let b): out[k] = b ? "true" : "false"
            default: throw ResourceError(path: "\(at(key)).\(k)", reason: "must be a string, got \(item.typeName)")
            }
        }
        return out
    }

    public mutating func map(_ key: String) throws(ResourceError) -> FieldReader? {
        guard let v = value(key) else { return nil }
        return try FieldReader(v, path: at(key))
    }

    /// Each element of a list of maps, as a reader with its index in the path.
    public mutating func list(_ key: String) throws(ResourceError) -> [FieldReader] {
        guard let v = value(key) else { return [] }
        guard case .list(let items) = v else { throw ResourceError(path: at(key), reason: "must be a list, got \(v.typeName)") }
        var out: [FieldReader] = []
        for (i, item) in items.enumerated() { out.append(try FieldReader(item, path: "\(at(key))[\(i)]")) }
        return out
    }

    /// Refuses fields that were never read.
    public func finish() throws(ResourceError) {
        for (key, _) in pairs where !used.contains(key) {
            let known = used.sorted().joined(separator: ", ")
            throw ResourceError(path: at(key), reason: "unknown field (known here: \(known))")
        }
    }
}
