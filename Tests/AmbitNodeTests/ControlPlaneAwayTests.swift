import AmbitAPI
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Foundation
import Testing

@testable import AmbitNode

/// A node restarted while its control plane is down: it still has its identity, its last
/// accepted config and its workloads' certificates, serves with them, and resyncs when the
/// control plane returns.
@Suite("Node restarted while the control plane is away")
struct ControlPlaneAwayTests {
    typealias T = ControlModeTests

    static func source(_ node: NodeControlPlane) -> PushConfigSource {
        PushConfigSource(connection: node, backoff: ReconnectBackoff(base: 0.05, cap: 0.3), startupGrace: 20)
    }

    @Test(.timeLimit(.minutes(2)))
    func aRestartedNodeServesItsLastAcceptedConfigThenResyncs() async throws {
        let cp = try await TestControlPlane()
        let dir = T.temporaryDirectory()
        let node = try await cp.joinedNode("n1", stateDirectory: dir)
        cp.provider.set(T.desired("1", ["w1", "w2"]))
        let first = Self.source(node)
        var running = Task { await first.run() }
        var snapshots = first.snapshots().makeAsyncIterator()
        #expect(T.names(try #require(await snapshots.next())) == ["shop/w1", "shop/w2"])
        let kept = ControlPlaneConnection.Files(stateDirectory: dir, kind: .node(name: "n1")).acceptedConfig
        try await waitUntil("the accepted config is on disk") { (try? AcceptedConfigFile(path: kept).load())?.resourceCount == 3 }
        #expect(T.mode(kept) == 0o600)

        // The node stops, then the control plane; the node starts again without it.
        running.cancel()
        await running.value
        await cp.stop()
        let restartedNode = try await cp.bootstrapWithoutToken("n1", stateDirectory: dir)
        let restarted = Self.source(restartedNode)
        running = Task { await restarted.run() }
        defer { running.cancel() }
        snapshots = restarted.snapshots().makeAsyncIterator()
        // Served from disk as soon as the first attempt to reach the control plane fails,
        // well within the 20 s grace.
        let started = Date()
        #expect(T.names(try #require(await snapshots.next())) == ["shop/w1", "shop/w2"])
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(restarted.servingStoredConfig)

        // The control plane returns with a change made meanwhile: only that travels, and
        // the node is in sync again.
        cp.provider.set(T.desired("2", ["w1", "w3"]))
        try await cp.start()
        #expect(T.names(try #require(await snapshots.next())) == ["shop/w1", "shop/w3"])
        #expect(!restarted.servingStoredConfig)
        try await waitUntil("the new set is on disk") {
            (try? AcceptedConfigFile(path: kept).load())?.resources[ResourceTypes.workload]?.keys.sorted() == ["shop/w1", "shop/w3"]
        }
        let sent = cp.registry.node("n1")?.types.first { $0.typeURL == ResourceTypes.workload }
        #expect(sent?.resourcesSent == 1, "a resync sends only what differs (w3), not the whole set")
        running.cancel()
        await running.value
        await cp.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func aRestartWithTheControlPlaneUpWaitsForItsAnswer() async throws {
        let cp = try await TestControlPlane()
        defer { Task { await cp.stop() } }
        let dir = T.temporaryDirectory()
        let node = try await cp.joinedNode("n1", stateDirectory: dir)
        cp.provider.set(T.desired("1", ["w1"]))
        let first = Self.source(node)
        var running = Task { await first.run() }
        var snapshots = first.snapshots().makeAsyncIterator()
        #expect(T.names(try #require(await snapshots.next())) == ["shop/w1"])
        running.cancel()
        await running.value

        // Changed while the node was down; the control plane is up: the stored set is never
        // published, the current one is.
        cp.provider.set(T.desired("2", ["w2"]))
        let restarted = Self.source(try await cp.bootstrapWithoutToken("n1", stateDirectory: dir))
        running = Task { await restarted.run() }
        defer { running.cancel() }
        snapshots = restarted.snapshots().makeAsyncIterator()
        #expect(T.names(try #require(await snapshots.next())) == ["shop/w2"])
        #expect(!restarted.servingStoredConfig)
        #expect(restarted.status?.synced == true)
    }

    @Test(.timeLimit(.minutes(2)))
    func workloadCertificatesSurviveARestartWhileTheControlPlaneIsDown() async throws {
        let cp = try await TestControlPlane()
        let web = cp.pki.id("shop", "web")
        cp.schedule(node: "n1", [web])
        let dir = T.temporaryDirectory()
        let node = try await cp.joinedNode("n1", stateDirectory: dir)
        let issued = try await DataPlaneControl.identityProvider(for: node, logger: .init(label: "test")).fetchCertificate(for: web)
        await cp.stop()

        // A new process: new provider, control plane unreachable.
        let restarted = DataPlaneControl.identityProvider(for: try await cp.bootstrapWithoutToken("n1", stateDirectory: dir), logger: .init(label: "test"))
        let kept = try await restarted.fetchCertificate(for: web)
        #expect(kept.serial == issued.serial && kept.identity == web)
        // Handed out from disk once; renewing it is the certificate manager's business, and
        // the failure it gets is the real one.
        let error = try await #require(throws: IdentityError.self) { try await restarted.fetchCertificate(for: web) }
        #expect(error.code == .unavailable)
        // Nothing on disk for an identity never issued: the control plane's absence shows.
        await #expect(throws: IdentityError.self) { try await restarted.fetchCertificate(for: cp.pki.id("shop", "db")) }
        let files = PersistedCertificates(inner: ControlPlaneCertificateProvider(connection: node), directory: node.files.workloadCertificates, trustBundle: { node.trustBundle }).files(web)
        #expect(T.mode(files.key) == 0o600)
    }

    @Test(.timeLimit(.minutes(2)))
    func theNodeCertificateIsRenewedAtHalfLifeOnTheInjectedClock() async throws {
        let cp = try await TestControlPlane()
        defer { Task { await cp.stop() } }
        let clock = ManualClock(now: Date().timeIntervalSince1970)
        var config = cp.bootstrap(node: "n1", stateDirectory: T.temporaryDirectory())
        config.joinToken = try cp.tokens.create(.node(name: "n1"))
        let node = try await NodeBootstrap.start(config, clock: clock)
        let before = node.certificate
        let renewals = node.changes()
        let maintaining = Task { await node.maintainCertificate() }
        defer { maintaining.cancel() }

        // Not yet: a quarter of the lifetime passes without a renewal.
        try await waitUntil("the renewal loop sleeps") { clock.sleeperCount > 0 }
        clock.advance(by: (before.notAfter - before.notBefore) / 4)
        try await Task.sleep(nanoseconds: 100_000_000)
        #expect(node.certificate.serial == before.serial)

        // Past half life: renewed, and the files rewritten.
        clock.advance(by: (before.notAfter - before.notBefore) / 4 + 1)
        for await _ in renewals { break }
        #expect(node.certificate.serial != before.serial)
        let onDisk = try WorkloadCertificate.load(certificateFile: node.files.certificate, keyFile: node.files.key)
        #expect(onDisk.serial == node.certificate.serial)
    }
}

extension TestControlPlane {
    /// `NodeBootstrap.start` as a restarted node runs it: no token, the identity from disk.
    func bootstrapWithoutToken(_ name: String, stateDirectory: String) async throws -> NodeControlPlane {
        try await NodeBootstrap.start(bootstrap(node: name, stateDirectory: stateDirectory))
    }
}
