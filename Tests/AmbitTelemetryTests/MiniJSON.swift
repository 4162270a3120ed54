/// A strict little JSON reader for one flat object, enough to prove access-log lines parse
/// back to what was logged without pulling Foundation into the tests.
enum MiniJSON {
    enum Value: Equatable {
        case string(String)
        case number(Double)
        case null
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func parseObject(_ text: String) throws -> [(key: String, value: Value)] {
        var reader = Reader(bytes: Array(text.utf8))
        let result = try reader.object()
        guard reader.index == reader.bytes.count else { throw Failure(description: "trailing bytes at \(reader.index)") }
        return result
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func expect(_ byte: UInt8) throws {
            guard index < bytes.count, bytes[index] == byte else {
                throw Failure(description: "expected '\(Character(Unicode.Scalar(byte)))' at \(index)")
            }
            index += 1
        }

        mutating func object() throws -> [(key: String, value: Value)] {
            try expect(UInt8(ascii: "{"))
            var fields: [(key: String, value: Value)] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return fields
            }
            while true {
                let key = try string()
                try expect(UInt8(ascii: ":"))
                fields.append((key, try value()))
                guard index < bytes.count else { throw Failure(description: "unterminated object") }
                if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return fields
                }
                try expect(UInt8(ascii: ","))
            }
        }

        mutating func value() throws -> Value {
            guard index < bytes.count else { throw Failure(description: "missing value") }
            switch bytes[index] {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "n"):
                guard bytes[index...].starts(with: Array("null".utf8)) else { throw Failure(description: "bad literal at \(index)") }
                index += 4
                return .null
            default:
                let start = index
                while index < bytes.count, "-+.eE0123456789".utf8.contains(bytes[index]) { index += 1 }
                guard let number = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                    throw Failure(description: "bad number at \(start)")
                }
                return .number(number)
            }
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte < 0x20 { throw Failure(description: "raw control character in string at \(index - 1)") }
                if byte == UInt8(ascii: "\"") {
                    flush()
                    return String(scalars)
                }
                guard byte == UInt8(ascii: "\\") else {
                    raw.append(byte)
                    continue
                }
                flush()
                guard index < bytes.count else { break }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count,
                        let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { throw Failure(description: "bad \\u escape at \(index)") }
                    index += 4
                    scalars.append(scalar)
                default:
                    throw Failure(description: "bad escape at \(index - 1)")
                }
            }
            throw Failure(description: "unterminated string")
        }
    }
}
