/// Trace and span identifiers as every propagation format carries them: fixed-width,
/// lower-case hex on the wire, all-zero meaning "invalid".
///
/// They are plain integers rather than strings so that a request that is not sampled
/// (99 % of them by default) costs a couple of integer parses and no allocation beyond the
/// header values the proxy rewrites anyway.

/// A 128-bit trace id. B3's 64-bit ids are widened with zero high bits, as Zipkin does.
public struct TraceID: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// False for the all-zero id, which W3C and B3 both reserve as invalid.
    public var isValid: Bool { high != 0 || low != 0 }

    /// 32 lower-case hex digits.
    public var hex: String { HexDigits.format(high, width: 16) + HexDigits.format(low, width: 16) }

    /// Parses exactly 32 lower-case hex digits; nil for anything else (including all zeros).
    public init?(hex text: Substring.UTF8View) {
        guard text.count == 32,
              let high = HexDigits.parse(text.prefix(16)),
              let low = HexDigits.parse(text.suffix(16)) else { return nil }
        self.init(high: high, low: low)
        guard isValid else { return nil }
    }

    public var description: String { hex }
}

/// A 64-bit span id.
public struct SpanID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    public var isValid: Bool { value != 0 }

    /// 16 lower-case hex digits.
    public var hex: String { HexDigits.format(value, width: 16) }

    /// Parses exactly 16 lower-case hex digits; nil for anything else (including all zeros).
    public init?(hex text: Substring.UTF8View) {
        guard text.count == 16, let value = HexDigits.parse(text), value != 0 else { return nil }
        self.value = value
    }

    public var description: String { hex }
}

extension TraceID {
    public init?(hex text: String) { self.init(hex: Substring(text).utf8) }
}

extension SpanID {
    public init?(hex text: String) { self.init(hex: Substring(text).utf8) }
}

/// Lower-case hex only: W3C forbids upper case ("MUST be lowercase") and B3 specifies
/// lower-hex, so accepting both would let one request carry two spellings of one id.
enum HexDigits {
    static func parse<Digits: Collection>(_ digits: Digits) -> UInt64? where Digits.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 16 else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte &- UInt8(ascii: "a") &+ 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    static func format(_ value: UInt64, width: Int) -> String {
        String(unsafeUninitializedCapacity: width) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var remaining = value
            for index in stride(from: width - 1, through: 0, by: -1) {
                buffer[index] = digits.utf8Start[Int(remaining & 0xf)]
                remaining >>= 4
            }
            return width
        }
    }
}
