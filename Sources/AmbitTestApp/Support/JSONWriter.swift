// A small JSON writer straight into a ByteBuffer. The server builds a JSON document for
// every request it answers; Foundation's encoder would cost more than the rest of the
// request, and the backend must stay cheap in benchmarks.
import NIOCore

struct JSONWriter {
    var buffer: ByteBuffer
    private var needsComma = [false]

    init(allocator: ByteBufferAllocator = ByteBufferAllocator(), capacity: Int = 512) {
        buffer = allocator.buffer(capacity: capacity)
    }

    mutating func beginObject(_ key: String? = nil) { open(key, "{") }
    mutating func endObject() { close("}") }
    mutating func beginArray(_ key: String? = nil) { open(key, "[") }
    mutating func endArray() { close("]") }

    mutating func field(_ key: String, _ value: String) { separator(); writeKey(key); writeString(value) }
    mutating func field(_ key: String, _ value: Int) { separator(); writeKey(key); buffer.writeString(String(value)) }
    mutating func field(_ key: String, _ value: Double) {
        separator(); writeKey(key)
        buffer.writeString(value.isFinite ? String(value) : "null")
    }
    mutating func field(_ key: String, _ value: Bool) { separator(); writeKey(key); buffer.writeString(value ? "true" : "false") }
    /// Inserts an already-encoded JSON value (for example the body another instance sent).
    mutating func rawField(_ key: String, _ json: ByteBuffer) {
        separator(); writeKey(key)
        var copy = json
        buffer.writeBuffer(&copy)
    }
    mutating func element(_ value: String) { separator(); writeString(value) }

    private mutating func open(_ key: String?, _ bracket: StaticString) {
        separator()
        if let key { writeKey(key) }
        buffer.writeStaticString(bracket)
        needsComma.append(false)
    }

    private mutating func close(_ bracket: StaticString) {
        needsComma.removeLast()
        buffer.writeStaticString(bracket)
    }

    private mutating func separator() {
        if needsComma[needsComma.count - 1] { buffer.writeInteger(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    private mutating func writeKey(_ key: String) {
        writeString(key)
        buffer.writeInteger(UInt8(ascii: ":"))
    }

    mutating func writeString(_ s: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeStaticString("\\n")
            case UInt8(ascii: "\r"): buffer.writeStaticString("\\r")
            case UInt8(ascii: "\t"): buffer.writeStaticString("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
