import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import Foundation
import NIOConcurrencyHelpers

/// N node clients in this process, each with its own node identity: a real
/// `ControlPlaneClient` stream over mutual TLS, validating every push into a `MeshSnapshot`
/// exactly as the node daemon does before it ACKs (or, with `validate: false`, ACKing
/// without building one, to separate the control plane's cost from the nodes': here all
/// nodes share this machine's cores, where real ones would validate in parallel).
final class NodeFleet: Sendable {
    let clients: [ControlPlaneClient]
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])

    /// Signs each node's identity with `sign` (a CSR made here; the key stays here), then
    /// builds every client; `start` opens their streams.
    init(
        count: Int, host: String, port: Int, trustBundle: TrustBundle, identities: ControlIdentities, validate: Bool = true,
        sign: (_ csrPEM: String, _ node: String) async throws -> [String]
    ) async throws {
        let verifier = SpiffeVerifier(trustBundle: trustBundle)
        var clients: [ControlPlaneClient] = []
        for i in 0..<count {
            let name = BenchMesh.nodeName(i)
            let id = try identities.node(name)
            let (csr, key) = try CSRBuilder.make(for: id)
            let chain = try await sign(try csr.serializeAsPEM().pemString, name)
            let certificate = try WorkloadCertificate(chainPEM: chain.joined(separator: "\n"), privateKey: key)
            var node = Ambit_V1_Node()
            node.id = name
            node.metadata = ["role": "node"]
            let security = try ControlPlaneTLS.client(certificate: certificate, verifier: verifier, expectedServer: [identities.control])
            clients.append(
                ControlPlaneClient(
                    configuration: .init(
                        host: host, port: port, security: .tls(security), node: node, typeURLs: ResourceTypes.node,
                        backoff: ReconnectBackoff(base: 0.05, cap: 1)),
                    validate: { [decoder = SnapshotDecoder()] candidate in
                        // As PushConfigSource validates: the whole snapshot, decoding what changed.
                        guard validate else { return nil }
                        do { _ = try decoder.snapshot(of: candidate) } catch { return "\(error)" }
                        return nil
                    }))
        }
        self.clients = clients
    }

    /// Opens every node's stream.
    func start() {
        tasks.withLockedValue { $0 = clients.map { c in Task { await c.run() } } }
    }

    func stop() async {
        let tasks = self.tasks.withLockedValue { $0 }
        for t in tasks { t.cancel() }
        for t in tasks { await t.value }
    }
}

/// Waits, polling the control plane's own record of ACKs (`PushRegistry`), until each of
/// `nodes` has ACKed `typeURLs` at `revision` or later: "every node has it" as the control
/// plane knows it, not merely "sent".
func waitForACKs(
    push: PushRegistry, nodes: Int, typeURLs: [String], revision: UInt64, timeout: Double = 120
) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let statuses = push.nodes()
        let done = statuses.count >= nodes && statuses.allSatisfy { n in
            typeURLs.allSatisfy { t in
                guard let s = n.types.first(where: { $0.typeURL == t }), let acked = UInt64(s.ackedVersion) else { return false }
                return acked >= revision && s.pendingNonce == nil
            }
        }
        if done { return }
        if Date() > deadline {
            let behind = statuses.filter { n in n.types.contains { UInt64($0.ackedVersion) ?? 0 < revision } }.map(\.node.id)
            throw BenchError("not every node ACKed revision \(revision) within \(Int(timeout)) s (\(statuses.count) connected; behind: \(behind.prefix(5)))")
        }
        try await Task.sleep(nanoseconds: 200_000)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
