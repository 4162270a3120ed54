import AmbitDNS
import Testing

@Suite("DNS message codec")
struct DNSMessageTests {
    // MARK: - Round trips

    @Test func queryRoundTrips() throws {
        let query = try makeQuery("Reviews.Bookinfo.svc.cluster.local.", .aaaa, id: 0xBEEF, edns: 1232)
        let bytes = query.serialized()
        #expect(bytes.count == query.wireLength)
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed == query)
        #expect(parsed.header.id == 0xBEEF)
        #expect(parsed.header.recursionDesired)
        #expect(parsed.questions.first?.name.description == "Reviews.Bookinfo.svc.cluster.local.")
        #expect(parsed.udpResponseLimit == 1232)
    }

    @Test func responseWithEveryRecordKindRoundTrips() throws {
        let query = try makeQuery("www.example.com", .a)
        let name = try DNSName("www.example.com")
        var response = DNSMessage.answer(
            to: query,
            records: [
                DNSResourceRecord(name: name, type: .cname, ttl: 60, data: .cname(try DNSName("edge.example.net"))),
                DNSResourceRecord(name: try DNSName("edge.example.net"), address: try MeshAddress(parsing: "192.0.2.7"), ttl: 60),
                DNSResourceRecord(name: name, address: try MeshAddress(parsing: "2001:db8::7"), ttl: 60),
                DNSResourceRecord(name: name, type: .txt, ttl: 5, data: .opaque([3, 0x61, 0x62, 0x63])),
            ])
        response.authorities = [DNSResourceRecord(name: try DNSName("example.com"), type: .ns, ttl: 9, data: .opaque([0]))]
        let parsed = try DNSMessage(parsing: response.serialized())
        #expect(parsed == response)
        #expect(parsed.header.isResponse && parsed.header.isAuthoritative)
        #expect(addresses(of: parsed) == ["192.0.2.7", "2001:db8::7"])
    }

    @Test func compressedNamesAreExpanded() throws {
        // Header, question www.example.com A IN, then an answer whose name is a pointer to
        // offset 12 and whose CNAME target is "cdn" + pointer to "example.com" (offset 16).
        var bytes: [UInt8] = [0x00, 0x07, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        bytes += [3] + Array("www".utf8) + [7] + Array("example".utf8) + [3] + Array("com".utf8) + [0, 0, 1, 0, 1]
        bytes += [0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3] + Array("cdn".utf8) + [0xC0, 16]
        let message = try DNSMessage(parsing: bytes)
        #expect(message.answers.first?.name.description == "www.example.com.")
        #expect(message.answers.first?.data == .cname(try DNSName("cdn.example.com")))
    }

    // MARK: - Malformed input

    private func parseError(_ bytes: [UInt8]) -> String {
        do {
            _ = try DNSMessage(parsing: bytes)
            return "parsed"
        } catch {
            #expect(error.code == .malformedMessage)
            return error.message
        }
    }

    /// A header announcing one question, followed by `body`.
    private func withQuestion(_ body: [UInt8]) -> [UInt8] {
        [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + body
    }

    @Test func truncatedHeader() {
        #expect(parseError([0x12, 0x34, 0x01]) == "DNS message is 3 bytes, shorter than the 12-byte header")
    }

    @Test func truncatedQuestion() {
        let message = parseError(withQuestion([3] + Array("www".utf8) + [0, 0, 1]))
        #expect(message.contains("the class of question 1"), "\(message)")
        let inName = parseError(withQuestion([7] + Array("exa".utf8)))
        #expect(inName.contains("label at offset 12 in the name of question 1"), "\(inName)")
    }

    @Test func labelOver63Bytes() {
        let message = parseError(withQuestion([64] + [UInt8](repeating: 0x61, count: 64) + [0, 0, 1, 0, 1]))
        #expect(message.contains("label length 64 at offset 12 in the name of question 1 is over the 63-byte limit"), "\(message)")
    }

    @Test func pointerLoop() {
        // A name that is only a pointer to itself.
        let message = parseError(withQuestion([0xC0, 12, 0, 1, 0, 1]))
        #expect(message.contains("compression pointer loop at offset 12"), "\(message)")
        // Two pointers pointing at each other.
        let twoStep = parseError(withQuestion([1, 0x61, 0xC0, 16, 0xC0, 12, 0, 1, 0, 1]))
        #expect(twoStep.contains("compression pointer loop"), "\(twoStep)")
    }

    @Test func pointerOutOfRange() {
        let message = parseError(withQuestion([0xC1, 0x2C, 0, 1, 0, 1]))
        #expect(
            message == "compression pointer at offset 12 points to offset 300, beyond the 18-byte message, in the name of question 1")
    }

    @Test func nameOver255Bytes() {
        let label: [UInt8] = [63] + [UInt8](repeating: 0x61, count: 63)
        let message = parseError(withQuestion(label + label + label + label + [0, 0, 1, 0, 1]))
        #expect(message.contains("the name of question 1 is longer than 255 bytes"), "\(message)")
    }

    @Test func recordDataOfTheWrongSize() throws {
        var bytes = try makeQuery("a.example", .a).serialized()
        bytes[7] = 1  // one answer
        bytes += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 3, 10, 0, 0]
        #expect(parseError(bytes) == "answer record 1 is A with 3 bytes of data; A data is 4 bytes")
        bytes[bytes.count - 4] = 9  // claims 9 bytes, 3 remain
        #expect(parseError(bytes).contains("the data of answer record 1 claims 9 bytes but only 3 remain"))
    }

    @Test func invalidTextNames() {
        #expect(throws: DNSError.self) { try DNSName("a..b") }
        #expect(throws: DNSError.self) { try DNSName(String(repeating: "x", count: 64) + ".com") }
        #expect(throws: DNSError.self) { try DNSName(Array(repeating: String(repeating: "x", count: 60), count: 5).joined(separator: ".")) }
        #expect((try? DNSName("."))?.labels.isEmpty == true)
    }

    // MARK: - Responses

    @Test func responseBuildersEchoTheQuery() throws {
        let query = try makeQuery("x.example", .a, id: 77)
        for (response, code) in [
            (DNSMessage.nameError(to: query), DNSResponseCode.nameError), (.serverFailure(to: query), .serverFailure),
            (.refused(to: query), .refused), (.noData(to: query), .noError), (.notImplemented(to: query), .notImplemented),
        ] {
            let parsed = try DNSMessage(parsing: response.serialized())
            #expect(parsed.header.id == 77 && parsed.header.isResponse && parsed.header.recursionDesired)
            #expect(parsed.header.responseCode == code)
            #expect(parsed.questions == query.questions && parsed.answers.isEmpty)
        }
    }

    @Test func formatErrorEchoesTheIDWhenTheHeaderIsReadable() throws {
        let reply = try #require(DNSMessage.formatError(toMalformed: [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0]))
        #expect(reply.header.id == 0xABCD && reply.header.responseCode == .formatError && reply.questions.isEmpty)
        #expect(DNSMessage.formatError(toMalformed: [0xAB, 0xCD]) == nil)
        // A "query" with QR set is a response: never answered, so two servers cannot loop.
        #expect(DNSMessage.formatError(toMalformed: [0xAB, 0xCD, 0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)
    }

    @Test func truncationKeepsWholeRecordsAndSetsTC() throws {
        let query = try makeQuery("many.example", .a)
        let many = (1...60).map { try! MeshAddress(bytes: [10, 0, 0, UInt8($0)]) }
        let full = DNSMessage.answer(to: query, addresses: many)
        #expect(full.wireLength > 512)
        let cut = full.truncated(toFit: 512)
        #expect(cut.header.isTruncated)
        #expect(cut.wireLength <= 512 && cut.wireLength > 512 - 27)  // no room for one more A record
        let parsed = try DNSMessage(parsing: cut.serialized())
        #expect(parsed.answers == Array(full.answers.prefix(parsed.answers.count)))
        #expect(full.truncated(toFit: 4096) == full)
    }
}
