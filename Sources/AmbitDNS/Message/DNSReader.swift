/// A bounds-checked cursor over a whole DNS message. Every read names what it was reading
/// (`context`), so an error says "question 1" or "answer record 2" rather than just
/// "truncated". Names are read against the whole message because compression pointers are
/// offsets from its first byte.
struct DNSReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    private func need(_ count: Int, _ context: String) throws(DNSError) {
        guard remaining >= count else {
            throw .malformed(
                "DNS message of \(bytes.count) bytes ends at offset \(bytes.count) while reading \(context) (needed \(count) more bytes at offset \(offset))")
        }
    }

    mutating func readUInt8(_ context: String) throws(DNSError) -> UInt8 {
        try need(1, context)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt16(_ context: String) throws(DNSError) -> UInt16 {
        try need(2, context)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func readUInt32(_ context: String) throws(DNSError) -> UInt32 {
        try need(4, context)
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }

    mutating func readBytes(_ count: Int, _ context: String) throws(DNSError) -> [UInt8] {
        try need(count, context)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// Reads a possibly compressed name (RFC 1035 §4.1.4) and leaves the cursor after its
    /// in-place part. `limit` bounds the in-place part (the end of an RDATA field); pointer
    /// targets may be anywhere in the message before its end.
    ///
    /// A pointer to an offset already visited is a loop: following it would never end, and
    /// a message crafted that way is an attack, so it is rejected rather than capped.
    mutating func readName(_ context: String, limit: Int? = nil) throws(DNSError) -> DNSName {
        let end = limit ?? bytes.count
        var labels: [[UInt8]] = []
        var wireLength = 1
        var position = offset
        var resumeAt: Int?  // where the cursor continues after the first pointer
        var visited: Set<Int> = []
        while true {
            let bound = resumeAt == nil ? end : bytes.count
            guard position < bound else {
                throw .malformed("DNS message ends at offset \(position) inside the name of \(context)")
            }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    offset = resumeAt ?? position + 1
                    return DNSName(validatedLabels: labels)
                }
                let count = Int(length)
                guard position + 1 + count <= bound else {
                    throw .malformed(
                        "DNS message ends inside a \(count)-byte label at offset \(position) in the name of \(context)")
                }
                wireLength += 1 + count
                guard wireLength <= DNSName.maxWireLength else {
                    throw .malformed("the name of \(context) is longer than 255 bytes (at offset \(position))")
                }
                labels.append(Array(bytes[position + 1..<position + 1 + count]))
                position += 1 + count
            case 0xC0:
                guard position + 1 < bound else {
                    throw .malformed("DNS message ends inside a compression pointer at offset \(position) in the name of \(context)")
                }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < bytes.count else {
                    throw .malformed(
                        "compression pointer at offset \(position) points to offset \(target), beyond the \(bytes.count)-byte message, in the name of \(context)")
                }
                guard visited.insert(target).inserted else {
                    throw .malformed("compression pointer loop at offset \(position) (back to offset \(target)) in the name of \(context)")
                }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            default:
                // 0x40 and 0x80 are the obsolete extended label types; in practice this is
                // a label length over 63, so say that.
                throw .malformed(
                    "label length \(length) at offset \(position) in the name of \(context) is over the 63-byte limit (or an unsupported label type)")
            }
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendUInt16(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xFF))
    }

    mutating func appendUInt32(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8(value >> 16 & 0xFF))
        append(UInt8(value >> 8 & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
