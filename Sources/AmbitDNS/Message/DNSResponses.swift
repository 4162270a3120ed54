/// Building responses to a parsed query. Every response echoes the ID, opcode, RD bit and
/// question section, as stub resolvers match answers on all of those.
extension DNSMessage {
    /// TTL of local answers: mesh addresses change as services move, and a short TTL bounds
    /// how long a pod keeps a stale one.
    public static let defaultTTL: UInt32 = 30

    /// The UDP payload size local answers advertise when the query used EDNS: the
    /// fragmentation-safe value of DNS Flag Day 2020.
    public static let advertisedUDPPayloadSize: UInt16 = 1232

    /// A response skeleton: header copied from the query with QR and RA set, the question
    /// echoed, and an OPT record when the query carried one (RFC 6891 §7 requires it).
    public static func response(to query: DNSMessage, code: DNSResponseCode, authoritative: Bool = false) -> DNSMessage {
        var header = DNSHeader(id: query.header.id)
        header.isResponse = true
        header.opcode = query.header.opcode
        header.recursionDesired = query.header.recursionDesired
        header.recursionAvailable = true  // we forward what we do not know
        header.checkingDisabled = query.header.checkingDisabled
        header.isAuthoritative = authoritative
        header.responseCode = code
        var response = DNSMessage(header: header, questions: query.questions)
        if query.ednsRecord != nil {
            response.additionals = [.opt(udpPayloadSize: advertisedUDPPayloadSize)]
        }
        return response
    }

    /// NOERROR with `records` as the answer section (authoritative: the mesh owns its names).
    public static func answer(to query: DNSMessage, records: [DNSResourceRecord]) -> DNSMessage {
        var response = response(to: query, code: .noError, authoritative: true)
        response.answers = records
        return response
    }

    /// NOERROR with an A/AAAA record per address, owned by the name exactly as asked.
    public static func answer(to query: DNSMessage, addresses: [MeshAddress], ttl: UInt32 = defaultTTL) -> DNSMessage {
        let name = query.questions.first?.name ?? .root
        return answer(to: query, records: addresses.map { DNSResourceRecord(name: name, address: $0, ttl: ttl) })
    }

    /// NOERROR with no answer: the name exists but has no record of the asked type, so the
    /// client should not try other types' search forms or other resolvers.
    public static func noData(to query: DNSMessage) -> DNSMessage {
        response(to: query, code: .noError, authoritative: true)
    }

    public static func nameError(to query: DNSMessage) -> DNSMessage {
        response(to: query, code: .nameError, authoritative: true)
    }

    public static func serverFailure(to query: DNSMessage) -> DNSMessage {
        response(to: query, code: .serverFailure)
    }

    public static func refused(to query: DNSMessage) -> DNSMessage {
        response(to: query, code: .refused)
    }

    public static func notImplemented(to query: DNSMessage) -> DNSMessage {
        response(to: query, code: .notImplemented)
    }

    /// FORMERR for bytes that did not parse: the ID, opcode and RD are echoed when the
    /// header was readable, with no question (we could not read it). nil when there is not
    /// even a header, or when the bytes claim to be a response: answering those could
    /// start a loop between two servers, so they are dropped.
    public static func formatError(toMalformed bytes: [UInt8]) -> DNSMessage? {
        guard let peeked = DNSHeader(peeking: bytes), !peeked.isResponse else { return nil }
        var header = DNSHeader(id: peeked.id)
        header.isResponse = true
        header.opcode = peeked.opcode
        header.recursionDesired = peeked.recursionDesired
        header.recursionAvailable = true
        header.responseCode = .formatError
        return DNSMessage(header: header)
    }

    /// FORMERR to a query that parsed but is not answerable (no question, or several).
    public static func formatError(to query: DNSMessage) -> DNSMessage {
        response(to: query, code: .formatError)
    }
}
