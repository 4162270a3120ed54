/// One access-log entry: fields in the order they were added, so every line of a log
/// reads the same way and a person can scan a column.
///
/// ```swift
/// var record: AccessLogRecord = ["start_time": "2024-05-01T10:00:00Z", "src.addr": "10.0.0.1:4711"]
/// record.append("bytes_sent", 1234)
/// record.append("duration_ms", 1.5)
/// record.append("error", nil as String?)   // missing: "-" in text, null in JSON
/// ```
public struct AccessLogRecord: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// A field value. `missing` is a field the connection did not have (no peer identity
    /// yet, no response code); it keeps its column instead of being dropped.
    public enum Value: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
        ExpressibleByFloatLiteral, ExpressibleByNilLiteral
    {
        case string(String)
        case integer(Int64)
        case double(Double)
        case missing

        public init(stringLiteral value: String) { self = .string(value) }
        public init(integerLiteral value: Int64) { self = .integer(value) }
        public init(floatLiteral value: Double) { self = .double(value) }
        public init(nilLiteral: ()) { self = .missing }
    }

    /// One key and its value.
    public struct Field: Sendable, Equatable {
        public var key: String
        public var value: Value

        public init(_ key: String, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    /// The fields, in order. Keys are expected to be unique; a repeated key is written twice.
    public var fields: [Field]

    public init(_ fields: [Field] = []) {
        self.fields = fields
    }

    public init(dictionaryLiteral elements: (String, Value)...) {
        fields = elements.map { Field($0.0, $0.1) }
    }

    // MARK: - Building

    public mutating func append(_ key: String, _ value: Value) {
        fields.append(Field(key, value))
    }

    /// Appends a string, or `missing` when nil.
    public mutating func append(_ key: String, _ value: String?) {
        append(key, value.map(Value.string) ?? .missing)
    }

    /// Appends an integer, or `missing` when nil.
    public mutating func append(_ key: String, _ value: Int?) {
        append(key, value.map { Value.integer(Int64($0)) } ?? .missing)
    }

    /// Appends a floating-point number, or `missing` when nil.
    public mutating func append(_ key: String, _ value: Double?) {
        append(key, value.map(Value.double) ?? .missing)
    }

    /// The value of the first field named `key`, if there is one.
    public subscript(key: String) -> Value? {
        fields.first { $0.key == key }?.value
    }
}
