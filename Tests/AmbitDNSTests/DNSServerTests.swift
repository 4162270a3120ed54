#if canImport(Glibc)
import Glibc
#endif
import AmbitDNS
import AmbitTesting
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@Suite("DNS server over real sockets")
struct DNSServerTests {
    let group = MultiThreadedEventLoopGroup.singleton

    static func table(_ reviews: [String] = ["10.96.0.12", "fd00::12"]) throws -> MeshNameTable {
        try MeshNameTable(entries: [.init(hostname: "reviews.bookinfo.svc.cluster.local", addresses: reviews)])
    }

    private func config(upstreams: [SocketAddress] = [], table: MeshNameTable? = nil) throws -> DNSServer.Configuration {
        let table = try table ?? Self.table()
        return DNSServer.Configuration(namespace: "bookinfo", upstreams: upstreams) { table }
    }

    /// An A record for whatever was asked, echoing the ID: what a real resolver would say.
    static let answersEverything: FakeUpstream.Answer = { query in
        DNSMessage.answer(to: query, addresses: [try! MeshAddress(parsing: "192.0.2.1")], ttl: 300)
    }

    // MARK: - Local answers

    @Test func udpAnswersAMeshNameAndSeesTableChanges() async throws {
        let table = NIOLockedValueBox(try Self.table())
        let configuration = DNSServer.Configuration(namespace: "bookinfo", upstreams: []) { table.withLockedValue { $0 } }
        let server = try await DNSServer.bind(configuration, group: group)
        defer { Task { await server.close() } }
        let port = try #require(server.udpLocalAddress?.port)

        let reply = try DNSMessage(parsing: try await udpExchange(try makeQuery("reviews", .a, id: 0x0101).serialized(), port: port))
        #expect(reply.header.id == 0x0101 && reply.header.responseCode == .noError && reply.header.isResponse)
        #expect(addresses(of: reply) == ["10.96.0.12"])
        #expect(reply.answers.first?.ttl == 30)

        table.withLockedValue { $0 = try! Self.table(["10.96.0.99"]) }
        let after = try DNSMessage(parsing: try await udpExchange(try makeQuery("reviews.bookinfo", .a).serialized(), port: port))
        #expect(addresses(of: after) == ["10.96.0.99"])
        #expect(server.answeredLocally == 2 && server.forwarded == 0 && server.failed == 0)
    }

    @Test func servesOnAlreadyBoundSockets() async throws {
        let udp = try boundSocket(SOCK_DGRAM)
        let tcp = try boundSocket(SOCK_STREAM)
        let server = try await DNSServer.start(try config(), udpSocket: udp.fd, tcpSocket: tcp.fd, group: group)
        defer { Task { await server.close() } }
        #expect(server.udpLocalAddress?.port == udp.port && server.tcpLocalAddress?.port == tcp.port)
        let reply = try DNSMessage(parsing: try await udpExchange(try makeQuery("reviews", .aaaa).serialized(), port: udp.port))
        #expect(addresses(of: reply) == ["fd00::12"])
        let overTCP = try await tcpExchange([try makeQuery("reviews", .a).serialized()], port: tcp.port)
        #expect(addresses(of: try DNSMessage(parsing: overTCP[0])) == ["10.96.0.12"])
    }

    @Test func tcpAnswersTwoQueriesOnOneConnection() async throws {
        let server = try await DNSServer.bind(try config(), group: group)
        defer { Task { await server.close() } }
        let replies = try await tcpExchange(
            [try makeQuery("reviews", .a, id: 1).serialized(), try makeQuery("reviews.bookinfo.svc", .aaaa, id: 2).serialized()],
            port: try #require(server.tcpLocalAddress?.port))
        let parsed = try replies.map { try DNSMessage(parsing: $0) }
        #expect(parsed.map(\.header.id) == [1, 2])
        #expect(addresses(of: parsed[0]) == ["10.96.0.12"])
        #expect(addresses(of: parsed[1]) == ["fd00::12"])
    }

    @Test func manyAddressesAreTruncatedOverUDPAndWholeOverTCP() async throws {
        let many = (1...80).map { "10.0.2.\($0)" }
        let server = try await DNSServer.bind(try config(table: try Self.table(many)), group: group)
        defer { Task { await server.close() } }
        let query = try makeQuery("reviews", .a).serialized()
        let udpReply = try await udpExchange(query, port: try #require(server.udpLocalAddress?.port))
        #expect(udpReply.count <= 512)
        let truncated = try DNSMessage(parsing: udpReply)
        #expect(truncated.header.isTruncated && truncated.answers.count < 80)
        let tcpReply = try await tcpExchange([query], port: try #require(server.tcpLocalAddress?.port))
        let whole = try DNSMessage(parsing: tcpReply[0])
        #expect(!whole.header.isTruncated && whole.answers.count == 80)
    }

    @Test func malformedQueriesGetFormErrAndTheServerKeepsServing() async throws {
        let server = try await DNSServer.bind(try config(), group: group)
        defer { Task { await server.close() } }
        let port = try #require(server.udpLocalAddress?.port)
        var loop = try makeQuery("reviews", .a, id: 0x0BAD).serialized()
        loop.replaceSubrange(12..., with: [0xC0, 12, 0, 1, 0, 1])
        let formerr = try DNSMessage(parsing: try await udpExchange(loop, port: port))
        #expect(formerr.header.id == 0x0BAD && formerr.header.responseCode == .formatError)
        let fine = try DNSMessage(parsing: try await udpExchange(try makeQuery("reviews").serialized(), port: port))
        #expect(addresses(of: fine) == ["10.96.0.12"])
        #expect(server.failed == 1 && server.answeredLocally == 1)
    }

    @Test func idleTCPConnectionsAreClosed() async throws {
        var configuration = try config()
        configuration.timeouts.tcpIdle = .milliseconds(200)
        let server = try await DNSServer.bind(configuration, group: group)
        defer { Task { await server.close() } }
        let port = try #require(server.tcpLocalAddress?.port)
        let rest = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port, receiveTimeoutSeconds: 5)
            return try socket.readToEnd()  // returns at EOF: the server closed first
        }
        #expect(rest.isEmpty)
    }

    // MARK: - Forwarding

    @Test func unknownNamesAreForwardedKeepingTheClientID() async throws {
        let upstream = try await FakeUpstream.start(group: group, answer: Self.answersEverything)
        defer { Task { await upstream.close() } }
        let sockets = NIOLockedValueBox(0)
        var configuration = try config(upstreams: [upstream.address])
        configuration.udpSocketFactory = { target in
            sockets.withLockedValue { $0 += 1 }
            return try DNSServer.plainUDPSocket(for: target)
        }
        let server = try await DNSServer.bind(configuration, group: group)
        defer { Task { await server.close() } }
        let query = try makeQuery("www.example.com", .a, id: 0x4242).serialized()
        let reply = try DNSMessage(parsing: try await udpExchange(query, port: try #require(server.udpLocalAddress?.port)))
        #expect(reply.header.id == 0x4242)
        #expect(addresses(of: reply) == ["192.0.2.1"])
        #expect(reply.questions.first?.name.description == "www.example.com.")
        #expect(upstream.queryIDs.count == 1 && sockets.withLockedValue { $0 } == 1)
        #expect(server.forwarded == 1 && server.answeredLocally == 0)
    }

    @Test func servFailWhenNoUpstreamAnswers() async throws {
        let silent = try await FakeUpstream.start(group: group) { _ in nil }
        defer { Task { await silent.close() } }
        var configuration = try config(upstreams: [silent.address])
        configuration.timeouts.forward = .milliseconds(400)
        configuration.timeouts.perUpstream = .milliseconds(150)
        let server = try await DNSServer.bind(configuration, group: group)
        defer { Task { await server.close() } }
        let query = try makeQuery("nowhere.example", .a, id: 0x5151).serialized()
        let reply = try DNSMessage(parsing: try await udpExchange(query, port: try #require(server.udpLocalAddress?.port)))
        #expect(reply.header.id == 0x5151 && reply.header.responseCode == .serverFailure)
        #expect(silent.queryIDs.count >= 2)  // asked again after each per-upstream timeout
        #expect(server.failed == 1 && server.forwarded == 0)
    }

    @Test func theNextUpstreamIsAskedWhenOneIsSilent() async throws {
        let silent = try await FakeUpstream.start(group: group) { _ in nil }
        let working = try await FakeUpstream.start(group: group, answer: Self.answersEverything)
        defer { Task { await silent.close(); await working.close() } }
        var configuration = try config(upstreams: [silent.address, working.address])
        configuration.timeouts.perUpstream = .milliseconds(200)
        let server = try await DNSServer.bind(configuration, group: group)
        defer { Task { await server.close() } }
        let reply = try DNSMessage(
            parsing: try await udpExchange(try makeQuery("www.example.com").serialized(), port: try #require(server.udpLocalAddress?.port)))
        #expect(addresses(of: reply) == ["192.0.2.1"])
        #expect(silent.queryIDs.count == 1 && working.queryIDs.count == 1)
    }

    @Test func tcpClientsGetTheWholeAnswerWhenUpstreamUDPIsTruncated() async throws {
        let upstream = try await FakeUpstream.start(group: group, tcpAnswer: Self.answersEverything) { query in
            var cut = DNSMessage.response(to: query, code: .noError)
            cut.header.isTruncated = true
            return cut
        }
        defer { Task { await upstream.close() } }
        let server = try await DNSServer.bind(try config(upstreams: [upstream.address]), group: group)
        defer { Task { await server.close() } }
        let replies = try await tcpExchange(
            [try makeQuery("big.example", .a, id: 7).serialized()], port: try #require(server.tcpLocalAddress?.port))
        let reply = try DNSMessage(parsing: replies[0])
        #expect(reply.header.id == 7 && !reply.header.isTruncated)
        #expect(addresses(of: reply) == ["192.0.2.1"])
        #expect(upstream.queryIDs.count == 2)  // once over UDP, once over TCP
    }
}

/// A socket bound to 127.0.0.1 on an ephemeral port, as the node hands the server.
private func boundSocket(_ type: __socket_type) throws -> (fd: NIOBSDSocket.Handle, port: Int) {
    let fd = socket(AF_INET, Int32(type.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard rc else { throw TestFailure("bind() failed") }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}
