/// One resource record. A, AAAA and CNAME data are decoded; everything else is kept as the
/// bytes from the wire (`opaque`).
///
/// Opaque data is verbatim: for types whose data holds compressed names (NS, MX, SOA,
/// PTR, SRV targets in practice) those pointers refer to the message the record came from.
/// That is fine here because the server never re-serializes a forwarded answer (it relays
/// the upstream's bytes), and builds local answers from A/AAAA records only.
public struct DNSResourceRecord: Hashable, Sendable, CustomStringConvertible {
    public enum RecordData: Hashable, Sendable {
        /// An IPv4 address: 4 bytes, network order.
        case a([UInt8])
        /// An IPv6 address: 16 bytes, network order.
        case aaaa([UInt8])
        case cname(DNSName)
        case opaque([UInt8])
    }

    public var name: DNSName
    public var type: DNSRecordType
    /// The class; on an OPT record, the sender's UDP payload size.
    public var recordClass: DNSClass
    /// Seconds; on an OPT record, the extended RCODE, version and flags.
    public var ttl: UInt32
    public var data: RecordData

    public init(name: DNSName, type: DNSRecordType, recordClass: DNSClass = .internet, ttl: UInt32, data: RecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    /// An A or AAAA record for an address of 4 or 16 bytes.
    public init(name: DNSName, address: MeshAddress, ttl: UInt32) {
        let isV4 = address.bytes.count == 4
        self.init(name: name, type: isV4 ? .a : .aaaa, ttl: ttl, data: isV4 ? .a(address.bytes) : .aaaa(address.bytes))
    }

    /// An EDNS OPT pseudo-record advertising `udpPayloadSize`, version 0, no flags or options.
    public static func opt(udpPayloadSize: UInt16) -> DNSResourceRecord {
        DNSResourceRecord(name: .root, type: .opt, recordClass: DNSClass(rawValue: udpPayloadSize), ttl: 0, data: .opaque([]))
    }

    public var description: String {
        let text: String
        switch data {
        case .a(let bytes), .aaaa(let bytes):
            text = (try? MeshAddress(bytes: bytes).description) ?? "\(bytes)"
        case .cname(let target):
            text = "\(target)"
        case .opaque(let bytes):
            text = "\\# \(bytes.count)"
        }
        return "\(name) \(ttl) \(recordClass) \(type) \(text)"
    }

    // MARK: - Wire form

    static func read(from reader: inout DNSReader, _ context: String) throws(DNSError) -> DNSResourceRecord {
        let name = try reader.readName(context)
        let type = DNSRecordType(rawValue: try reader.readUInt16("the type of \(context)"))
        let recordClass = DNSClass(rawValue: try reader.readUInt16("the class of \(context)"))
        let ttl = try reader.readUInt32("the TTL of \(context)")
        let length = Int(try reader.readUInt16("the data length of \(context)"))
        guard reader.remaining >= length else {
            throw .malformed(
                "the data of \(context) claims \(length) bytes but only \(reader.remaining) remain in the message (at offset \(reader.offset))")
        }
        let dataEnd = reader.offset + length
        let data: RecordData
        switch type {
        case .a, .aaaa:
            let expected = type == .a ? 4 : 16
            guard length == expected else {
                throw .malformed("\(context) is \(type) with \(length) bytes of data; \(type) data is \(expected) bytes")
            }
            let bytes = try reader.readBytes(length, "the data of \(context)")
            data = type == .a ? .a(bytes) : .aaaa(bytes)
        case .cname:
            let target = try reader.readName("the CNAME target of \(context)", limit: dataEnd)
            guard reader.offset == dataEnd else {
                throw .malformed("the CNAME target of \(context) does not fill its \(length)-byte data field")
            }
            data = .cname(target)
        default:
            data = .opaque(try reader.readBytes(length, "the data of \(context)"))
        }
        return DNSResourceRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }

    /// Appends the uncompressed wire form. Data over 65535 bytes cannot be encoded; only a
    /// caller building an absurd opaque record can get there, so that is a precondition.
    func write(to out: inout [UInt8]) {
        name.write(to: &out)
        out.appendUInt16(type.rawValue)
        out.appendUInt16(recordClass.rawValue)
        out.appendUInt32(ttl)
        let lengthAt = out.count
        out.appendUInt16(0)
        switch data {
        case .a(let bytes), .aaaa(let bytes), .opaque(let bytes): out.append(contentsOf: bytes)
        case .cname(let target): target.write(to: &out)
        }
        let length = out.count - lengthAt - 2
        precondition(length <= 0xFFFF, "record data of \(length) bytes does not fit a DNS record")
        out[lengthAt] = UInt8(length >> 8)
        out[lengthAt + 1] = UInt8(length & 0xFF)
    }

    /// Bytes `write` appends.
    var wireLength: Int {
        var scratch: [UInt8] = []
        write(to: &scratch)
        return scratch.count
    }
}
