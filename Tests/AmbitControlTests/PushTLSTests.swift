import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Testing

/// The push over mutual TLS with SPIFFE identities checked on both sides.
@Suite("Push over mutual TLS")
struct PushTLSTests {
    typealias F = PushFixtures

    @Test(.timeLimit(.minutes(2)))
    func nodesAuthenticateWithTheirSpiffeIdentity() async throws {
        let pki = try TestPKI()
        let verifier = SpiffeVerifier(trustBundle: pki.trustBundle)
        let controlID = pki.id("ambit-system", "control")
        let nodeID = pki.id("ambit-system", "node-1")
        let serverSecurity = try ControlPlaneTLS.server(certificate: try pki.workloadCertificate(for: controlID), verifier: verifier)
        let provider = TestConfigProvider(F.desired("1", [F.ws: [F.workload("w1", address: "10.0.0.1")]]))
        let server = try await PushEndToEndTests.Server(provider: provider, security: serverSecurity)

        // A node that expects this control plane: synced, and the server knows who it is.
        let good = PushEndToEndTests.client(
            "node-1", port: server.port,
            security: .tls(try ControlPlaneTLS.client(certificate: try pki.workloadCertificate(for: nodeID), verifier: verifier, expectedServer: [controlID])))
        // A node that expects another identity at this address: never accepts the server.
        let misdirected = PushEndToEndTests.client(
            "node-2", port: server.port,
            security: .tls(
                try ControlPlaneTLS.client(
                    certificate: try pki.workloadCertificate(for: pki.id("ambit-system", "node-2")), verifier: verifier,
                    expectedServer: [pki.id("ambit-system", "someone-else")])))
        // A node whose certificate comes from another CA: the server refuses it.
        let foreignPKI = try TestPKI()
        let foreign = PushEndToEndTests.client(
            "node-3", port: server.port,
            security: .tls(
                try ControlPlaneTLS.client(
                    certificate: try foreignPKI.workloadCertificate(for: foreignPKI.id("ambit-system", "node-3")), verifier: verifier,
                    expectedServer: [controlID])))
        let tasks = [good, misdirected, foreign].map { c in Task { await c.run() } }
        defer { for t in tasks { t.cancel() } }

        try await waitUntil("node-1 synced over mTLS") { PushEndToEndTests.workloadNames(good) == ["ns1/w1"] }
        let status = try #require(server.registry.node("node-1"))
        #expect(status.node.identity == nodeID.uri)
        try await waitUntil("the other two failed at least twice") {
            misdirected.status.streamsStarted >= 2 && foreign.status.streamsStarted >= 2
        }
        #expect(misdirected.accepted.resourceCount == 0 && !misdirected.status.connected)
        #expect(foreign.accepted.resourceCount == 0 && !foreign.status.connected)
        #expect(server.registry.node("node-2") == nil && server.registry.node("node-3") == nil)
        for t in tasks { t.cancel(); await t.value }
        await server.stop()
    }
}
