import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import NIOConcurrencyHelpers
import Testing

@testable import AmbitNode

/// The node against a control plane built here from AmbitControl's own pieces, over real
/// sockets on 127.0.0.1: the join port (server-authenticated TLS) and the control port
/// (mutual TLS) serving `CertificatesService` and the config push.
@Suite("Node with a control plane")
struct ControlModeTests {
    @Test(.timeLimit(.minutes(2)))
    func joinsOnceThenRestartsWithoutAToken() async throws {
        let cp = try await TestControlPlane()
        defer { Task { await cp.stop() } }
        let dir = Self.temporaryDirectory()
        var config = cp.bootstrap(node: "n1", stateDirectory: dir)
        config.joinToken = try cp.tokens.create(.node(name: "n1"))

        let joined = try await NodeBootstrap.start(config)
        #expect(joined.nodeID == cp.pki.id("ambit-system", "node-n1"))
        #expect(joined.certificate.identity == joined.nodeID)
        let files = ControlPlaneConnection.Files(stateDirectory: dir, kind: .node(name: "n1"))
        #expect(Self.mode(files.key) == 0o600)
        #expect(Self.mode(files.certificate) != nil && Self.mode(files.trustBundle) != nil)
        let onDisk = try WorkloadCertificate.load(certificateFile: files.certificate, keyFile: files.key)
        #expect(onDisk.serial == joined.certificate.serial)
        #expect(cp.tokens.outstanding == 0)

        // A restart: no token, the same identity from disk, nothing asked of the control plane.
        config.joinToken = nil
        let restarted = try await NodeBootstrap.start(config)
        #expect(restarted.certificate.serial == joined.certificate.serial)

        // A renewal (what the node does at half life) rewrites the files.
        try await restarted.renew()
        #expect(restarted.certificate.serial != joined.certificate.serial)
        let renewed = try WorkloadCertificate.load(certificateFile: files.certificate, keyFile: files.key)
        #expect(renewed.serial == restarted.certificate.serial)
        #expect(Self.mode(files.key) == 0o600)
    }

    @Test(.timeLimit(.minutes(2)))
    func spentBogusOrMissingTokensAreRefusedWithTheReason() async throws {
        let cp = try await TestControlPlane()
        defer { Task { await cp.stop() } }
        let token = try cp.tokens.create(.node(name: "n1"))
        var first = cp.bootstrap(node: "n1", stateDirectory: Self.temporaryDirectory())
        first.joinToken = token
        _ = try await NodeBootstrap.start(first)

        for bad in [token, "ambit-join-0000", ""] {
            var again = cp.bootstrap(node: "n1", stateDirectory: Self.temporaryDirectory())
            again.joinToken = bad
            let error = try await #require(throws: NodeError.self) { try await NodeBootstrap.start(again) }
            if bad.isEmpty {
                #expect(error.message.contains("this node has no identity yet; start it with --join TOKEN from `ambit control token create --node n1`"))
            } else {
                #expect(error.message.contains("the join token is not valid (unknown or already used)"), "\(error)")
            }
        }
        // A token for another node does not make this one that node (the CA compares the CSR).
        var other = cp.bootstrap(node: "n2", stateDirectory: Self.temporaryDirectory())
        other.joinToken = try cp.tokens.create(.node(name: "n3"))
        let error = try await #require(throws: NodeError.self) { try await NodeBootstrap.start(other) }
        #expect(error.message.contains("grants spiffe://cluster.local/ns/ambit-system/sa/node-n3"), "\(error)")
    }

    @Test(.timeLimit(.minutes(2)))
    func joiningChecksTheServerIsTheControlPlane() async throws {
        // Same CA, but the server proves another identity: the token is never sent to it.
        let cp = try await TestControlPlane(serverIdentity: "impostor")
        defer { Task { await cp.stop() } }
        var config = cp.bootstrap(node: "n1", stateDirectory: Self.temporaryDirectory())
        config.joinToken = try cp.tokens.create(.node(name: "n1"))
        let error = try await #require(throws: NodeError.self) { try await NodeBootstrap.start(config) }
        #expect(error.message.contains("cannot join the mesh"), "\(error)")
        #expect(cp.tokens.outstanding == 1)
    }

    @Test(.timeLimit(.minutes(2)))
    func workloadCertificatesOnlyForIdentitiesScheduledHere() async throws {
        let cp = try await TestControlPlane()
        defer { Task { await cp.stop() } }
        cp.schedule(node: "n1", [cp.pki.id("shop", "web")])
        let node = try await cp.joinedNode("n1", stateDirectory: Self.temporaryDirectory())
        let provider = ControlPlaneCertificateProvider(connection: node)

        let web = try await provider.fetchCertificate(for: cp.pki.id("shop", "web"))
        #expect(web.identity == cp.pki.id("shop", "web"))
        _ = try await SpiffeVerifier(trustBundle: cp.pki.trustBundle).verify(chain: web.chain, expected: [web.identity]).get()

        let error = try await #require(throws: IdentityError.self) {
            try await provider.fetchCertificate(for: cp.pki.id("shop", "db"))
        }
        #expect(error.code == .unauthorized)
        #expect(error.message.contains("no workload with that identity is scheduled on it"), "\(error)")
    }

    @Test(.timeLimit(.minutes(2)))
    func sourceFollowsThePushAndKeepsTheLastConfigWhileTheControlPlaneIsAway() async throws {
        let cp = try await TestControlPlane()
        let node = try await cp.joinedNode("n1", stateDirectory: Self.temporaryDirectory())
        cp.provider.set(Self.desired("1", ["w1"]))
        let source = PushConfigSource(connection: node, backoff: ReconnectBackoff(base: 0.05, cap: 0.3))
        let running = Task { await source.run() }
        defer { running.cancel() }
        var snapshots = source.snapshots().makeAsyncIterator()

        #expect(Self.names(try #require(await snapshots.next())) == ["shop/w1"])
        cp.provider.set(Self.desired("2", ["w1", "w2"]))
        #expect(Self.names(try #require(await snapshots.next())) == ["shop/w1", "shop/w2"])
        #expect(cp.registry.node("n1")?.node.identity == node.nodeID.uri)

        // The control plane goes away: the last accepted snapshot stays in force.
        await cp.stop()
        try await waitUntil("the source noticed") { source.status?.connected == false }
        #expect(Self.names(try #require(source.current)) == ["shop/w1", "shop/w2"])

        // It comes back (same ports) with a change made meanwhile: the source resyncs.
        cp.provider.set(Self.desired("3", ["w1", "w3"]))
        try await cp.start()
        #expect(Self.names(try #require(await snapshots.next())) == ["shop/w1", "shop/w3"])
        running.cancel()
        await running.value
        await cp.stop()
    }

    @Test(.timeLimit(.minutes(2)))
    func aRenewedNodeCertificateReopensTheStreamWithIt() async throws {
        let cp = try await TestControlPlane()
        defer { Task { await cp.stop() } }
        let node = try await cp.joinedNode("n1", stateDirectory: Self.temporaryDirectory())
        cp.provider.set(Self.desired("1", ["w1"]))
        let source = PushConfigSource(connection: node, backoff: ReconnectBackoff(base: 0.05, cap: 0.3))
        let running = Task { await source.run() }
        defer { running.cancel() }
        var snapshots = source.snapshots().makeAsyncIterator()
        #expect(Self.names(try #require(await snapshots.next())) == ["shop/w1"])
        let before = node.certificate.serial
        #expect(source.streamCertificateSerial == before)

        try await node.renew()
        #expect(node.certificate.serial != before)
        try await waitUntil("a stream presenting the new certificate is up") {
            source.streamCertificateSerial == node.certificate.serial && source.status?.connected == true
        }
        // Same content: nothing new to yield; a later change still arrives.
        cp.provider.set(Self.desired("2", ["w2"]))
        #expect(Self.names(try #require(await snapshots.next())) == ["shop/w2"])
        running.cancel()
        await running.value
    }

    // MARK: - Helpers

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "ambit-node-\(UUID().uuidString)/state"
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }

    static func names(_ snapshot: MeshSnapshot) -> [String] { snapshot.workloads.map(\.metadata.key).sorted() }

    static func document(_ json: String) -> ConfigValue { try! ConfigParser.documents(json, file: "fixture")[0] }

    static func desired(_ version: String, _ workloads: [String]) -> DesiredConfig {
        let namespace = Ambit_V1_Resource(
            name: "shop",
            document: document(#"{"apiVersion":"ambit.dev/v1","kind":"Namespace","metadata":{"name":"shop","labels":{"ambit.dev/dataplane-mode":"ambient"}}}"#))
        let resources = workloads.enumerated().map { i, name in
            Ambit_V1_Resource(
                name: "shop/\(name)",
                document: document(
                    #"{"apiVersion":"ambit.dev/v1","kind":"Workload","metadata":{"name":"\#(name)","namespace":"shop","labels":{"app":"\#(name)"}},"spec":{"serviceAccount":"\#(name)","node":"n1","addresses":["10.0.0.\#(i + 1)"]}}"#
                ))
        }
        return DesiredConfig(version: version, resources: [ResourceTypes.namespace: [namespace], ResourceTypes.workload: resources])
    }
}

/// A control plane in miniature: the real CA service and push over gRPC, on a join port
/// (TLS) and a control port (mTLS), stoppable and restartable on the same ports.
final class TestControlPlane: Sendable {
    let pki: TestPKI
    let tokens: JoinTokens
    let provider = FixedConfigProvider()
    let registry = PushRegistry()
    private let certificates: CertificateService
    private let serverCertificate: WorkloadCertificate
    private let scheduled = NIOLockedValueBox<[String: Set<SpiffeID>]>([:])
    private let running = NIOLockedValueBox<(servers: [GRPCServer<HTTP2ServerTransport.Posix>], tasks: [Task<Void, any Error>], ports: [Int])>(([], [], [0, 0]))

    init(serverIdentity: String = "control") async throws {
        pki = try TestPKI()
        tokens = try JoinTokens(path: nil)
        let scheduled = self.scheduled
        certificates = CertificateService(ca: try pki.authority(), tokens: tokens) { node in
            scheduled.withLockedValue { $0[node] ?? [] }
        }
        // Valid for two days, so a node on a manual clock can be moved past half of its own
        // (24 h) lifetime and still trust the server.
        serverCertificate = try pki.workloadCertificate(
            for: pki.id("ambit-system", serverIdentity), notAfter: Date().timeIntervalSince1970 + 48 * 3600)
        try await start()
    }

    var controlPort: Int { running.withLockedValue { $0.ports[0] } }
    var joinPort: Int { running.withLockedValue { $0.ports[1] } }

    func schedule(node: String, _ identities: Set<SpiffeID>) {
        scheduled.withLockedValue { $0[node] = identities }
    }

    func bootstrap(node: String, stateDirectory: String) -> NodeBootstrap.Configuration {
        var config = NodeBootstrap.Configuration(
            nodeName: node, trustDomain: pki.trustDomain, control: HostPort(host: "127.0.0.1", port: controlPort), stateDirectory: stateDirectory)
        config.joinPort = joinPort
        config.trustBundleFile = pki.directory + "/root-cert.pem"
        return config
    }

    func joinedNode(_ name: String, stateDirectory: String) async throws -> NodeControlPlane {
        var config = bootstrap(node: name, stateDirectory: stateDirectory)
        config.joinToken = try tokens.create(.node(name: name))
        return try await NodeBootstrap.start(config)
    }

    /// Listens on the ports of the last run (any free ones the first time).
    func start() async throws {
        let service = CertificatesService(certificates: certificates)
        let ports = running.withLockedValue { $0.ports }
        let control = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: "127.0.0.1", port: ports[0]),
                transportSecurity: try ControlPlaneTLS.server(certificate: serverCertificate, verifier: SpiffeVerifier(trustBundle: pki.trustBundle))),
            services: [ConfigDiscoveryService(provider: provider, registry: registry), service])
        let join = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: "127.0.0.1", port: ports[1]),
                transportSecurity: ControlPlaneTLS.joinServer(
                    certificateChainPEM: try serverCertificate.chainPEM(), privateKeyPEM: serverCertificate.privateKeyPEM)),
            services: [service])
        var tasks: [Task<Void, any Error>] = []
        var bound: [Int] = []
        for server in [control, join] {
            tasks.append(Task { try await server.serve() })
            guard let address = try await server.listeningAddress?.ipv4 else { throw TestFailure("the server did not listen") }
            bound.append(address.port)
        }
        running.withLockedValue { $0 = ([control, join], tasks, bound) }
    }

    /// Stops listening first, then ends the open streams (they never end by themselves).
    func stop() async {
        let (servers, tasks) = running.withLockedValue { r in
            defer { r.servers = []; r.tasks = [] }
            return (r.servers, r.tasks)
        }
        for server in servers { server.beginGracefulShutdown() }
        try? await Task.sleep(nanoseconds: 50_000_000)
        for task in tasks {
            task.cancel()
            _ = await task.result
        }
    }
}

/// Every node gets the config the test sets.
final class FixedConfigProvider: DesiredConfigProvider {
    private let state = NIOLockedValueBox<(config: DesiredConfig, watchers: [Int: AsyncStream<Void>.Continuation], next: Int)>((.empty, [:], 0))

    func set(_ config: DesiredConfig) {
        let watchers = state.withLockedValue { s in
            s.config = config
            return Array(s.watchers.values)
        }
        for w in watchers { w.yield() }
    }

    func desiredConfig(for node: PushNode) async throws -> DesiredConfig { state.withLockedValue { $0.config } }

    func changes() -> AsyncStream<Void> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let id = state.withLockedValue { s -> Int in
                s.next += 1
                s.watchers[s.next] = continuation
                return s.next
            }
            continuation.onTermination = { [state] _ in state.withLockedValue { _ = $0.watchers.removeValue(forKey: id) } }
        }
    }
}
