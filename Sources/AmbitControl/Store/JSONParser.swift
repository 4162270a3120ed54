import AmbitCore

/// A strict JSON reader over UTF-8 bytes, producing `ConfigValue`.
///
/// Written for the store's own files, so it favours refusing anything odd (a trailing
/// comma, a lone surrogate, a duplicate key, bytes after the value) over guessing: a file
/// that does not read exactly as written is damaged and must be reported as such.
struct JSONParser {
    /// Deep enough for any real document; stops a hostile or damaged file from recursing
    /// the stack away.
    static let maximumDepth = 256

    private let bytes: ArraySlice<UInt8>
    private var index: Int
    private var depth = 0

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    mutating func document() throws(JSONParseError) -> ConfigValue {
        let value = try self.value()
        skipSpace()
        guard index == bytes.endIndex else { throw fail("unexpected bytes after the value") }
        return value
    }

    private func fail(_ reason: String) -> JSONParseError {
        JSONParseError(offset: index - bytes.startIndex, reason: reason)
    }

    private mutating func skipSpace() {
        while index < bytes.endIndex, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
    }

    private mutating func expect(_ literal: String, _ value: ConfigValue) throws(JSONParseError) -> ConfigValue {
        for byte in literal.utf8 {
            guard index < bytes.endIndex, bytes[index] == byte else { throw fail("expected '\(literal)'") }
            index += 1
        }
        return value
    }

    private mutating func value() throws(JSONParseError) -> ConfigValue {
        skipSpace()
        guard index < bytes.endIndex else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        default: return try number()
        }
    }

    private mutating func nest() throws(JSONParseError) {
        depth += 1
        if depth > Self.maximumDepth { throw fail("nested more than \(Self.maximumDepth) levels deep") }
        index += 1  // the opening bracket
        skipSpace()
    }

    private mutating func object() throws(JSONParseError) -> ConfigValue {
        try nest()
        var pairs: [(String, ConfigValue)] = []
        var seen: Set<String> = []
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .map(pairs)
        }
        while true {
            skipSpace()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key in double quotes") }
            let keyStart = index
            let key = try string()
            guard seen.insert(key).inserted else {
                throw JSONParseError(offset: keyStart - bytes.startIndex, reason: "the key '\(key)' appears twice")
            }
            skipSpace()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
            index += 1
            pairs.append((key, try value()))
            skipSpace()
            guard index < bytes.endIndex else { throw fail("unexpected end of input in an object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard bytes[index] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            index += 1
            depth -= 1
            return .map(pairs)
        }
    }

    private mutating func array() throws(JSONParseError) -> ConfigValue {
        try nest()
        var items: [ConfigValue] = []
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .list(items)
        }
        while true {
            items.append(try value())
            skipSpace()
            guard index < bytes.endIndex else { throw fail("unexpected end of input in an array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            guard bytes[index] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
            index += 1
            depth -= 1
            return .list(items)
        }
    }

    private mutating func number() throws(JSONParseError) -> ConfigValue {
        let start = index
        while index < bytes.endIndex, "+-.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !text.isEmpty, CanonicalJSON.isJSONNumber(text.utf8) else {
            index = start
            throw fail(text.isEmpty ? "expected a value" : "'\(text)' is not a JSON number")
        }
        return .number(text)
    }

    private mutating func string() throws(JSONParseError) -> String {
        index += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = index
        // Runs without escapes are decoded in one go; the validating decode refuses
        // malformed UTF-8 instead of replacing it.
        func flush(_ end: Int) throws(JSONParseError) {
            guard runStart < end else { return }
            guard let run = String(validating: bytes[runStart..<end], as: UTF8.self) else {
                throw JSONParseError(offset: runStart - bytes.startIndex, reason: "a string is not valid UTF-8")
            }
            scalars.append(contentsOf: run.unicodeScalars)
        }
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try flush(index)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw fail("a control character inside a string must be escaped") }
            if byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            try flush(index)
            index += 1
            guard index < bytes.endIndex else { break }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard index + 1 < bytes.endIndex, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw fail("a high surrogate must be followed by a low one")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("a high surrogate must be followed by a low one") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let scalar = Unicode.Scalar(code) else { throw fail("a lone low surrogate") }
                scalars.append(scalar)
            default:
                throw fail("unknown escape")
            }
            runStart = index
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        // Checked byte by byte: `UInt32(_:radix:)` would also take a sign.
        guard index + 4 <= bytes.endIndex, bytes[index..<index + 4].allSatisfy({ Self.isHexDigit($0) }),
            let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
        else { throw fail("\\u must be followed by four hex digits") }
        index += 4
        return code
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }
}
