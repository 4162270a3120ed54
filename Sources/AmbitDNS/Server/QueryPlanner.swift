/// How a query arrived; it decides how large a local answer may be.
enum DNSTransport: Sendable {
    case udp
    case tcp
}

/// What the server does with one incoming message. Decided by `QueryPlanner`, performed by
/// the channel handlers.
enum QueryPlan: Equatable, Sendable {
    /// Which counter a reply made without forwarding goes to.
    enum Outcome: Equatable, Sendable {
        case answeredLocally
        case failed
    }

    /// Send these bytes back now.
    case reply([UInt8], Outcome)
    /// Not a mesh name: ask the upstream resolvers.
    case forward(DNSMessage)
    /// Say nothing (no readable header, or a response sent to us); the reason is for logs.
    case drop(String)
}

/// The decision for one message, kept pure so every branch is a unit test: parse, reject
/// what cannot be answered, answer mesh names from the table, forward the rest.
struct QueryPlanner: Sendable {
    /// The namespace of the pod this server serves, for the short `name` form.
    var namespace: String
    var ttl: UInt32 = DNSMessage.defaultTTL
    /// False when no upstream is configured: unknown names are then REFUSED, which makes
    /// the stub move on to its next nameserver rather than wait.
    var canForward = true

    func plan(_ bytes: [UInt8], table: MeshNameTable, transport: DNSTransport) -> QueryPlan {
        let query: DNSMessage
        do throws(DNSError) {
            query = try DNSMessage(parsing: bytes)
        } catch {
            guard let reply = DNSMessage.formatError(toMalformed: bytes) else {
                return .drop("unreadable message: \(error.message)")
            }
            return .reply(reply.serialized(), .failed)
        }
        guard !query.header.isResponse else { return .drop("a response, not a query (QR set)") }
        guard query.header.opcode == 0 else {
            return .reply(finish(.notImplemented(to: query), query, transport), .failed)
        }
        guard query.questions.count == 1, let question = query.questions.first else {
            return .reply(finish(.formatError(to: query), query, transport), .failed)
        }
        if question.recordClass == .internet || question.recordClass == .any,
            let match = table.lookup(question.name, fromNamespace: namespace)
        {
            // A mesh name is never forwarded, even for a type it has no record of: the
            // upstream would say NXDOMAIN, which makes resolvers give up on the A query too.
            let addresses = match.addresses(for: question.type)
            let response =
                addresses.isEmpty ? DNSMessage.noData(to: query) : DNSMessage.answer(to: query, addresses: addresses, ttl: ttl)
            return .reply(finish(response, query, transport), .answeredLocally)
        }
        guard canForward else { return .reply(finish(.refused(to: query), query, transport), .failed) }
        return .forward(query)
    }

    /// Serializes a local response, truncated to what the transport carries.
    private func finish(_ response: DNSMessage, _ query: DNSMessage, _ transport: DNSTransport) -> [UInt8] {
        let limit = transport == .udp ? query.udpResponseLimit : Int(UInt16.max)
        return response.truncated(toFit: limit).serialized()
    }
}

/// Splits a TCP byte stream into DNS messages, each preceded by its 2-byte length
/// (RFC 1035 §4.2.2). Pure, so the server and the upstream TCP client share it.
struct DNSStreamFramer {
    private var pending: [UInt8] = []
    private var start = 0

    mutating func append(_ bytes: some Sequence<UInt8>) {
        pending.append(contentsOf: bytes)
    }

    /// The next complete message, if one has arrived.
    mutating func next() -> [UInt8]? {
        guard pending.count - start >= 2 else { return nil }
        let length = Int(pending[start]) << 8 | Int(pending[start + 1])
        guard pending.count - start - 2 >= length else { return nil }
        let message = Array(pending[start + 2..<start + 2 + length])
        start += 2 + length
        // Compact once the consumed prefix dominates, so a long connection does not grow.
        if start > 4096, start * 2 > pending.count {
            pending.removeFirst(start)
            start = 0
        }
        return message
    }

    /// `message` with its length prefix; messages are at most 65535 bytes by construction.
    static func frame(_ message: [UInt8]) -> [UInt8] {
        precondition(message.count <= 0xFFFF, "a DNS message over TCP is at most 65535 bytes")
        return [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }
}
