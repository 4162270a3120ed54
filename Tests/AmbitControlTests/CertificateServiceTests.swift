import AmbitControl
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Foundation
import Testing
import X509

@Suite("CA service: join tokens and who may have which certificate")
struct CertificateServiceTests {
    let pki = try! TestPKI()

    func csr(_ id: SpiffeID) throws -> String {
        try CSRBuilder.make(for: id).0.serializeAsPEM().pemString
    }

    func service(tokens: JoinTokens, scheduled: [String: Set<SpiffeID>] = [:]) throws -> CertificateService {
        CertificateService(ca: try pki.authority(), tokens: tokens) { node in scheduled[node] ?? [] }
    }

    @Test("a join token is spent once and yields exactly the identity it grants")
    func joinOnce() async throws {
        let tokens = try JoinTokens(path: nil)
        let service = try service(tokens: tokens)
        let token = try tokens.create(.node(name: "node1"))
        let nodeID = try service.identities.node("node1")
        let chain = try await service.join(token: token, csrPEM: try csr(nodeID))
        #expect(try SpiffeSAN.identity(of: chain[0]) == nodeID)
        await #expect(throws: ControlError.self) { try await service.join(token: token, csrPEM: try csr(nodeID)) }
        do {
            _ = try await service.join(token: token, csrPEM: try csr(nodeID))
        } catch {
            #expect("\(error)" == "the join token is not valid (unknown or already used); create a new one with `ambit control token create`")
        }
    }

    @Test("a token for node1 cannot be used to become node2 or a workload")
    func joinWrongIdentity() async throws {
        let tokens = try JoinTokens(path: nil)
        let service = try service(tokens: tokens)
        let token = try tokens.create(.node(name: "node1"))
        let other = try service.identities.node("node2")
        do {
            _ = try await service.join(token: token, csrPEM: try csr(other))
            Issue.record("joined with a CSR for another identity")
        } catch {
            #expect("\(error)".contains("the join token grants spiffe://cluster.local/ns/ambit-system/sa/node-node1, but the CSR asks for spiffe://cluster.local/ns/ambit-system/sa/node-node2"))
        }
    }

    @Test("tokens expire")
    func expiry() throws {
        let clock = ManualClock()
        let tokens = try JoinTokens(path: nil, clock: clock)
        let token = try tokens.create(.node(name: "n"), ttl: 60)
        clock.advance(by: 61)
        #expect(throws: ControlError.self) { try tokens.redeem(token) }
        #expect(tokens.outstanding == 0)
    }

    @Test("tokens persist as digests only, and survive a restart")
    func persistence() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-tokens-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/join-tokens"
        let token = try JoinTokens(path: path).create(.waypoint(namespace: "shop", gateway: "waypoint"))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(token), "the token itself must never be written")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try JoinTokens(path: path).redeem(token) == .waypoint(namespace: "shop", gateway: "waypoint"))
    }

    @Test("a node gets certificates only for service accounts scheduled on it, and the refusal names both")
    func nodeScope() async throws {
        let tokens = try JoinTokens(path: nil)
        let onNode1 = pki.id("shop", "cart")
        let elsewhere = pki.id("shop", "payments")
        let service = try service(tokens: tokens, scheduled: ["node1": [onNode1]])
        let node1 = try service.identities.node("node1")
        let chain = try await service.issue(csrPEM: try csr(onNode1), requester: node1)
        #expect(try SpiffeSAN.identity(of: chain[0]) == onNode1)
        do {
            _ = try await service.issue(csrPEM: try csr(elsewhere), requester: node1)
            Issue.record("node1 obtained a certificate for a service account that is not on it")
        } catch {
            #expect("\(error)" == "node node1 asked for spiffe://cluster.local/ns/shop/sa/payments, but no workload with that identity is scheduled on it")
        }
    }

    @Test("a waypoint renews only its own identity")
    func waypointScope() async throws {
        let service = try service(tokens: try JoinTokens(path: nil))
        let waypoint = try service.identities.waypoint(namespace: "shop", gateway: "waypoint")
        _ = try await service.issue(csrPEM: try csr(waypoint), requester: waypoint)
        await #expect(throws: ControlError.self) {
            try await service.issue(csrPEM: try csr(pki.id("shop", "cart")), requester: waypoint)
        }
    }

    @Test("garbage instead of a CSR is refused with a reason")
    func badCSR() async throws {
        let service = try service(tokens: try JoinTokens(path: nil))
        await #expect(throws: ControlError.self) {
            try await service.issue(csrPEM: "not a csr", requester: try service.identities.node("n"))
        }
    }
}
