/// A DNS message (RFC 1035 §4): header, questions and three record sections.
///
/// Pure value, no I/O. Parsing decompresses names and rejects anything that could make a
/// reader misbehave (pointer loops, pointers outside the message, oversized labels and
/// names, truncated input), naming the offending section and offset. Serializing writes
/// names uncompressed: local answers are small, and it keeps the writer trivially correct.
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    public var additionals: [DNSResourceRecord]

    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// The largest UDP payload a client may assume without EDNS (RFC 1035 §2.3.4).
    public static let classicUDPLimit = 512

    // MARK: - Parsing

    /// Parses a whole message. Bytes after the last record are ignored, as most resolvers do.
    public init(parsing bytes: [UInt8]) throws(DNSError) {
        guard bytes.count >= DNSHeader.length else {
            throw .malformed("DNS message is \(bytes.count) bytes, shorter than the 12-byte header")
        }
        var reader = DNSReader(bytes)
        let id = try reader.readUInt16("the header")
        let flags = try reader.readUInt16("the header")
        let counts = [
            try reader.readUInt16("the header"), try reader.readUInt16("the header"),
            try reader.readUInt16("the header"), try reader.readUInt16("the header"),
        ].map(Int.init)
        header = DNSHeader(id: id, flags: flags)

        questions = []
        for index in 0..<counts[0] {
            let context = "question \(index + 1)"
            let name = try reader.readName(context)
            let type = try reader.readUInt16("the type of \(context)")
            let recordClass = try reader.readUInt16("the class of \(context)")
            questions.append(DNSQuestion(name: name, type: DNSRecordType(rawValue: type), recordClass: DNSClass(rawValue: recordClass)))
        }
        func records(_ count: Int, _ section: String) throws(DNSError) -> [DNSResourceRecord] {
            var out: [DNSResourceRecord] = []
            for index in 0..<count {
                out.append(try DNSResourceRecord.read(from: &reader, "\(section) record \(index + 1)"))
            }
            return out
        }
        answers = try records(counts[1], "answer")
        authorities = try records(counts[2], "authority")
        additionals = try records(counts[3], "additional")
    }

    // MARK: - Serializing

    /// The uncompressed wire form, counts taken from the sections.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(wireLength)
        writeHeader(to: &out, answers: answers.count, authorities: authorities.count, additionals: additionals.count)
        for question in questions { Self.write(question, to: &out) }
        for record in answers + authorities + additionals { record.write(to: &out) }
        return out
    }

    private func writeHeader(to out: inout [UInt8], answers: Int, authorities: Int, additionals: Int) {
        for count in [questions.count, answers, authorities, additionals] {
            precondition(count <= 0xFFFF, "a DNS section holds at most 65535 entries")
        }
        out.appendUInt16(header.id)
        out.appendUInt16(header.flags)
        out.appendUInt16(UInt16(questions.count))
        out.appendUInt16(UInt16(answers))
        out.appendUInt16(UInt16(authorities))
        out.appendUInt16(UInt16(additionals))
    }

    private static func write(_ question: DNSQuestion, to out: inout [UInt8]) {
        question.name.write(to: &out)
        out.appendUInt16(question.type.rawValue)
        out.appendUInt16(question.recordClass.rawValue)
    }

    /// Bytes `serialized()` returns.
    public var wireLength: Int {
        let sections = (answers + authorities + additionals).reduce(0) { $0 + $1.wireLength }
        return questions.reduce(DNSHeader.length + sections) { $0 + $1.name.wireLength + 4 }
    }

    // MARK: - EDNS

    /// The OPT pseudo-record, if the sender included one.
    public var ednsRecord: DNSResourceRecord? { additionals.first { $0.type == .opt } }

    /// The largest UDP response this message's sender accepts: its EDNS payload size, never
    /// below 512 (RFC 6891 §6.2.5), or 512 without EDNS.
    public var udpResponseLimit: Int {
        guard let opt = ednsRecord else { return Self.classicUDPLimit }
        return max(Self.classicUDPLimit, Int(opt.recordClass.rawValue))
    }

    // MARK: - Truncation

    /// This message cut to fit `limit` bytes for UDP: header, questions and any OPT record
    /// are kept, then as many whole answer records as fit; authority and additional records
    /// go first. TC is set when anything was dropped, telling the client to ask over TCP.
    public func truncated(toFit limit: Int) -> DNSMessage {
        guard wireLength > limit else { return self }
        var cut = self
        cut.header.isTruncated = true
        cut.answers = []
        cut.authorities = []
        cut.additionals = additionals.filter { $0.type == .opt }
        var size = cut.wireLength
        for record in answers {
            let length = record.wireLength
            guard size + length <= limit else { break }
            cut.answers.append(record)
            size += length
        }
        return cut
    }
}
