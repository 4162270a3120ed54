import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Foundation
import NIOConcurrencyHelpers
import Testing
import X509

/// The control plane's own certificate is renewed at half life while it runs, and new
/// handshakes present the renewed one: a control plane up longer than its certificate's
/// lifetime still lets nodes in.
@Suite("Control plane serving certificate", .serialized)
struct ServingCertificateTests {
    @Test(.timeLimit(.minutes(1)))
    func renewedAtHalfLifeOnTheInjectedClock() async throws {
        let clock = ManualClock(now: Date().timeIntervalSince1970)
        let pki = try TestPKI(clock: clock)
        let serving = try await ServingCertificate(
            identity: pki.id("ambit-system", "control"), ca: try pki.authority(), ttl: 3600, clock: clock, logger: .init(label: "test"))
        let first = serving.certificate
        let renewed = NIOLockedValueBox<[String]>([])
        let task = Task { await serving.maintain(onRenewal: { certificate in renewed.withLockedValue { $0.append(certificate.serial) } }) }
        defer { task.cancel() }

        // Half life of the certificate as issued (the CA backdates notBefore a little).
        let halfLife = RotationPolicy().refreshTime(notBefore: first.notBefore, notAfter: first.notAfter)
        try await clock.waitForSleepers()
        clock.advance(to: halfLife - 10)
        try await Task.sleep(nanoseconds: 50_000_000)
        #expect(serving.certificate.serial == first.serial, "not before half life")
        clock.advance(by: 11)
        try await waitUntil("renewed") { renewed.withLockedValue { $0.count } == 1 }
        let second = serving.certificate
        #expect(second.serial != first.serial && renewed.withLockedValue { $0 } == [second.serial])
        #expect(second.identity == first.identity && abs(second.notAfter - (clock.now() + 3600)) < 2)
        // TLS is handed the new chain and key.
        let override = serving.sslContextConfigurationOverride
        #expect(override.certificateChain?.count == second.chain.count && override.privateKey != nil)

        // And again at the next half life.
        try await clock.waitForSleepers()
        clock.advance(by: 1801)
        try await waitUntil("renewed again") { renewed.withLockedValue { $0.count } == 2 }
    }

    @Test(.timeLimit(.minutes(1)))
    func newHandshakesPresentTheRenewedCertificate() async throws {
        let clock = ManualClock(now: Date().timeIntervalSince1970)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-cp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var configuration = ControlPlane.Configuration(dataDirectory: dir)
        configuration.listen = HostPort(host: "127.0.0.1", port: 0)
        configuration.joinListen = HostPort(host: "127.0.0.1", port: 0)
        configuration.serviceCertificateTTL = 3600
        configuration.clock = clock
        let plane = try await ControlPlane.start(configuration)
        let task = Task { try await plane.run() }
        defer { task.cancel() }
        let ports = try await plane.boundPorts()
        let admin = try ClientConfig(parsing: try String(contentsOfFile: plane.adminConfigPath, encoding: .utf8), file: "admin")

        /// The leaf the server presents in a fresh handshake.
        func presented() async throws -> Certificate {
            let seen = NIOLockedValueBox<[UInt8]?>(nil)
            let security = ControlPlaneTLS.client(
                certificateChainPEM: admin.certificatePEM, privateKeyPEM: admin.keyPEM, trustRootsPEM: admin.caPEM,
                verifyPeer: { der in seen.withLockedValue { $0 = der.first } })
            _ = try await AdminClient(server: HostPort(host: "127.0.0.1", port: ports.main), security: security).status()
            return try Certificate(derEncoded: try #require(seen.withLockedValue { $0 }))
        }

        let before = plane.serving.certificate
        #expect(try await presented() == before.leaf)
        try await clock.waitForSleepers()
        clock.advance(by: 1801)
        try await waitUntil("the serving certificate is renewed") { plane.serving.certificate.serial != before.serial }
        #expect(try await presented() == plane.serving.certificate.leaf)
        task.cancel()
        _ = await task.result
    }
}
