@testable import AmbitDNS
import Testing

@Suite("Mesh name table and query planning")
struct MeshNameTableTests {
    static func table() throws -> MeshNameTable {
        try MeshNameTable(entries: [
            .init(hostname: "reviews.bookinfo.svc.cluster.local", addresses: ["10.96.0.12", "fd00::12"]),
            .init(hostname: "ratings.default.svc.cluster.local", addresses: ["10.96.0.20"]),
            .init(hostname: "Ratings.default.svc.cluster.local.", addresses: ["10.96.0.21", "10.96.0.20"]),
            .init(hostname: "db.example.com", addresses: ["fd00::99"]),
        ])
    }

    @Test(arguments: [
        ("reviews.bookinfo.svc.cluster.local", "default"),
        ("reviews.bookinfo.svc.cluster.local.", "default"),
        ("REVIEWS.Bookinfo.SVC.cluster.LOCAL", "default"),
        ("reviews", "bookinfo"),
        ("Reviews.", "bookinfo"),
        ("reviews.bookinfo", "default"),
        ("reviews.bookinfo.svc", "default"),
        ("reviews.bookinfo.svc.", "default"),
    ])
    func searchFormsFindTheService(name: String, namespace: String) throws {
        let match = try #require(try Self.table().lookup(name, fromNamespace: namespace))
        #expect(match.hostname == "reviews.bookinfo.svc.cluster.local")
        #expect(match.ipv4.map(\.description) == ["10.96.0.12"])
        #expect(match.ipv6.map(\.description) == ["fd00::12"])
    }

    @Test(arguments: [
        ("reviews", "default"),  // wrong namespace for the short form
        ("reviews.bookinfo.default.svc.cluster.local", "default"),  // search-list expansion: the client's job
        ("reviews.bookinfo.svc.cluster", "default"),
        ("reviews.bookinfo.cluster.local", "default"),
        ("x.reviews.bookinfo.svc.cluster.local", "default"),
        ("db.example", "default"),
        ("svc.cluster.local", "default"),
    ])
    func otherNamesAreNotMeshNames(name: String, namespace: String) throws {
        #expect(try Self.table().lookup(name, fromNamespace: namespace) == nil)
    }

    @Test func duplicateEntriesMergeAndNonClusterHostsMatchExactly() throws {
        let table = try Self.table()
        #expect(table.count == 3)
        #expect(table.lookup("ratings", fromNamespace: "default")?.ipv4.map(\.description) == ["10.96.0.20", "10.96.0.21"])
        #expect(table.lookup("DB.example.com.", fromNamespace: "x")?.ipv6.map(\.description) == ["fd00::99"])
    }

    @Test func customClusterDomain() throws {
        let table = try MeshNameTable(
            entries: [.init(hostname: "api.shop.svc.corp.internal", addresses: ["10.1.0.1"])], clusterDomain: "Corp.Internal.")
        #expect(table.clusterDomain == "corp.internal")
        #expect(table.lookup("api", fromNamespace: "shop") != nil)
        #expect(table.lookup("api.shop", fromNamespace: "x") != nil)
        #expect(table.lookup("api.shop.svc.cluster.local", fromNamespace: "x") == nil)
    }

    @Test func badEntriesSayWhatIsWrong() {
        #expect(throws: DNSError.self) { try MeshNameTable.Entry(hostname: "a.b", addresses: ["10.0.0.300"]) }
        do {
            _ = try MeshNameTable.Entry(hostname: "svc.ns", addresses: ["not-an-ip"])
        } catch {
            #expect(error.code == .invalidAddress)
            #expect(error.message.contains("'not-an-ip' is not an IPv4 or IPv6 address"))
        }
        #expect(throws: DNSError.self) { try MeshNameTable(entries: [.init(hostname: "a..b", addresses: [MeshAddress]())]) }
    }

    // MARK: - Planning (pure)

    @Test func meshNameWithoutAddressOfTheTypeIsNoData() throws {
        let planner = QueryPlanner(namespace: "bookinfo")
        let table = try Self.table()
        for (type, expected) in [(DNSRecordType.aaaa, 0), (.mx, 0), (.a, 2)] {
            let query = try makeQuery("ratings.default", type)
            let plan = planner.plan(query.serialized(), table: table, transport: .udp)
            guard case .reply(let bytes, .answeredLocally) = plan else {
                Issue.record("expected a local reply for \(type), got \(plan)")
                continue
            }
            let response = try DNSMessage(parsing: bytes)
            #expect(response.header.responseCode == .noError && response.header.isAuthoritative)
            #expect(response.answers.count == expected)
            #expect(response.answers.allSatisfy { $0.ttl == 30 && $0.name == query.questions[0].name })
        }
    }

    @Test func unknownNamesAreForwardedAndBadQueriesAnswered() throws {
        let table = try Self.table()
        let planner = QueryPlanner(namespace: "x")
        let unknown = try makeQuery("www.example.com")
        #expect(planner.plan(unknown.serialized(), table: table, transport: .udp) == .forward(unknown))
        var noUpstream = planner
        noUpstream.canForward = false
        #expect(
            noUpstream.plan(unknown.serialized(), table: table, transport: .udp)
                == .reply(DNSMessage.refused(to: unknown).serialized(), .failed))
        guard case .reply(let formerr, .failed) = planner.plan([0, 9, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0], table: table, transport: .udp)
        else {
            Issue.record("no FORMERR")
            return
        }
        #expect(DNSHeader(peeking: formerr)?.id == 9)
        #expect(DNSHeader(peeking: formerr)?.responseCode == .formatError)
        guard case .drop = planner.plan([0, 9, 1], table: table, transport: .udp) else {
            Issue.record("a message without a header must be dropped")
            return
        }
        var twoQuestions = unknown
        twoQuestions.questions.append(twoQuestions.questions[0])
        #expect(
            planner.plan(twoQuestions.serialized(), table: table, transport: .udp)
                == .reply(DNSMessage.formatError(to: twoQuestions).serialized(), .failed))
        var update = unknown
        update.header.opcode = 5
        guard case .reply(let notimp, .failed) = planner.plan(update.serialized(), table: table, transport: .udp) else {
            Issue.record("no NOTIMP")
            return
        }
        #expect(DNSHeader(peeking: notimp)?.responseCode == .notImplemented)
    }

    @Test func localAnswersTruncateOverUDPButNotTCP() throws {
        let many = (1...100).map { "10.0.1.\($0)" }
        let table = try MeshNameTable(entries: [.init(hostname: "big.ns.svc.cluster.local", addresses: many)])
        let planner = QueryPlanner(namespace: "ns")
        let query = try makeQuery("big", .a).serialized()
        guard case .reply(let udp, _) = planner.plan(query, table: table, transport: .udp),
            case .reply(let tcp, _) = planner.plan(query, table: table, transport: .tcp)
        else {
            Issue.record("expected replies")
            return
        }
        #expect(udp.count <= 512 && DNSHeader(peeking: udp)?.isTruncated == true)
        #expect(try DNSMessage(parsing: tcp).answers.count == 100)
        let edns = try makeQuery("big", .a, edns: 4096).serialized()
        guard case .reply(let large, _) = planner.plan(edns, table: table, transport: .udp) else { return }
        let parsed = try DNSMessage(parsing: large)
        #expect(parsed.answers.count == 100 && !parsed.header.isTruncated && parsed.ednsRecord != nil)
    }
}
