import AmbitCore

extension CanonicalJSON {
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
