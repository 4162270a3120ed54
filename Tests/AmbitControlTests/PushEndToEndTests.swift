import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitTesting
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOConcurrencyHelpers
import Testing

/// The push over real gRPC on 127.0.0.1: one control plane, two nodes.
@Suite("Push end to end")
struct PushEndToEndTests {
    typealias F = PushFixtures

    /// A control plane's push server on 127.0.0.1, stoppable and restartable on its port.
    final class Server: Sendable {
        let registry = PushRegistry()
        let server: GRPCServer<HTTP2ServerTransport.Posix>
        let task: Task<Void, any Error>
        let port: Int

        init(provider: TestConfigProvider, port: Int = 0, security: HTTP2ServerTransport.Posix.TransportSecurity = .plaintext) async throws {
            server = GRPCServer(
                transport: .http2NIOPosix(address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: security),
                services: [ConfigDiscoveryService(provider: provider, registry: registry)])
            task = Task { [server] in try await server.serve() }
            guard let address = try await server.listeningAddress?.ipv4 else {
                task.cancel()
                throw TestFailure("the server did not listen")
            }
            self.port = address.port
        }

        /// Stops listening first, then ends the open streams (they never end by themselves).
        func stop() async {
            server.beginGracefulShutdown()
            try? await Task.sleep(nanoseconds: 50_000_000)
            task.cancel()
            _ = await task.result
        }
    }

    static func client(
        _ id: String, port: Int, security: ControlPlaneClient.Security = .plaintext,
        validate: @escaping @Sendable (AcceptedConfig) -> String? = F.meshValidation
    ) -> ControlPlaneClient {
        var node = Ambit_V1_Node()
        node.id = id
        node.metadata = ["role": "node"]
        return ControlPlaneClient(
            configuration: .init(
                host: "127.0.0.1", port: port, security: security, node: node, typeURLs: ResourceTypes.node,
                backoff: ReconnectBackoff(base: 0.05, cap: 0.5)),
            validate: validate)
    }

    static func workloadNames(_ c: ControlPlaneClient) -> [String] {
        ((try? c.accepted.meshSnapshot())?.workloads.map(\.metadata.key) ?? []).sorted()
    }

    @Test(.timeLimit(.minutes(2)))
    func syncUpdatesNackAndRestart() async throws {
        let ns1 = F.namespace("ns1", labels: ["ambit.dev/dataplane-mode": "ambient"])
        let w1 = F.workload("w1", address: "10.0.0.1")
        let w2 = F.workload("w2", address: "10.0.0.2")
        let provider = TestConfigProvider(F.desired("1", [F.ns: [ns1], F.ws: [w1]]))
        var server = try await Server(provider: provider)
        let port = server.port

        // node-2 refuses any workload named "canary" (a stricter validation of its own).
        let node1 = Self.client("node-1", port: port)
        let node2 = Self.client("node-2", port: port) { candidate in
            if candidate.resources[ResourceTypes.workload]?.keys.contains("ns1/canary") == true { return "node-2 does not run canaries" }
            return F.meshValidation(candidate)
        }
        let tasks = [Task { await node1.run() }, Task { await node2.run() }]
        defer { for t in tasks { t.cancel() } }
        var updates = node1.configs().makeAsyncIterator()

        // Initial sync.
        try await waitUntil("both nodes hold w1") { Self.workloadNames(node1) == ["ns1/w1"] && Self.workloadNames(node2) == ["ns1/w1"] }
        let firstSeen = try #require(await updates.next())
        #expect(firstSeen.resources[F.ns]?.keys.sorted() == ["ns1"])
        #expect(try node1.accepted.meshSnapshot().namespaces["ns1"] != nil)
        try await waitUntil("the server saw both ACKs") {
            server.registry.nodes().map(\.node.id) == ["node-1", "node-2"]
                && server.registry.nodes().allSatisfy { $0.connected && $0.types.first { $0.typeURL == F.ws }?.ackedVersion == "1" }
        }

        // An update reaches both.
        provider.set(F.desired("2", [F.ns: [ns1], F.ws: [w1, w2]]))
        try await waitUntil("both nodes hold w2") {
            Self.workloadNames(node1) == ["ns1/w1", "ns1/w2"] && Self.workloadNames(node2) == ["ns1/w1", "ns1/w2"]
        }

        // node-2 NACKs the canary and keeps what it had; node-1 ACKs.
        let canary = F.workload("canary", address: "10.0.0.9")
        provider.set(F.desired("3", [F.ns: [ns1], F.ws: [w1, w2, canary]]))
        try await waitUntil("node-1 holds the canary and node-2's NACK is recorded") {
            Self.workloadNames(node1) == ["ns1/canary", "ns1/w1", "ns1/w2"]
                && server.registry.node("node-1")?.types.first { $0.typeURL == F.ws }?.ackedVersion == "3"
                && server.registry.node("node-2")?.types.first { $0.typeURL == F.ws }?.lastError != nil
        }
        #expect(Self.workloadNames(node2) == ["ns1/w1", "ns1/w2"])
        #expect(node2.status.nacks >= 1)
        #expect(node2.status.rejections[F.ws] == "node-2 does not run canaries")
        let n2 = try #require(server.registry.node("node-2")?.types.first { $0.typeURL == F.ws })
        #expect(n2.ackedVersion == "2")
        #expect(n2.lastError?.contains("node-2 does not run canaries") == true)
        #expect(server.registry.node("node-1")?.types.first { $0.typeURL == F.ws }?.ackedVersion == "3")
        #expect(server.registry.statusMessages().count == 2)

        // The control plane goes away; both nodes keep serving what they accepted.
        await server.stop()
        try await waitUntil("both nodes notice") { !node1.status.connected && !node2.status.connected }
        #expect(Self.workloadNames(node1) == ["ns1/canary", "ns1/w1", "ns1/w2"])
        #expect(Self.workloadNames(node2) == ["ns1/w1", "ns1/w2"])

        // Meanwhile w1 changes, w2 goes, w3 comes, the canary is gone.
        let w1b = F.workload("w1", address: "10.0.0.1", version: "v2")
        let w3 = F.workload("w3", address: "10.0.0.3")
        provider.set(F.desired("4", [F.ns: [ns1], F.ws: [w1b, w3]]))
        server = try await Server(provider: provider, port: port)
        try await waitUntil("both nodes resynced") {
            Self.workloadNames(node1) == ["ns1/w1", "ns1/w3"] && Self.workloadNames(node2) == ["ns1/w1", "ns1/w3"]
                && server.registry.nodes().count == 2
                && server.registry.nodes().allSatisfy { $0.types.first { $0.typeURL == F.ws }?.ackedVersion == "4" }
        }
        #expect(node1.accepted.resources[F.ws]?["ns1/w1"]?.version == w1b.version)
        // Only the differences travelled: w1 and w3; for the namespaces, an empty answer
        // that confirms what the node holds.
        for id in ["node-1", "node-2"] {
            let types = try #require(server.registry.node(id)?.types)
            #expect(types.first { $0.typeURL == F.ws }?.resourcesSent == 2, "\(id)")
            #expect(types.first { $0.typeURL == F.ns }?.resourcesSent == 0, "\(id)")
            #expect(types.first { $0.typeURL == F.ns }?.responsesSent == 1, "\(id)")
        }
        #expect(node1.status.streamsStarted >= 2)
        for t in tasks { t.cancel(); await t.value }
        await server.stop()
    }
}
