import AmbitCore
import AmbitTesting
import Foundation
import Glibc
import Testing

/// Nodes that take their identity, certificates and config from `ambit control`, in real
/// namespaces: the switch-over from the file, end to end.
@Suite("Nodes driven by the control plane", .needsRoot, .serialized)
struct ControlPlaneMeshTests {
    @Test("nodes join with tokens, traffic flows with identities from the control plane's CA, survives kill -9 of the control plane, and a policy applied after its restart takes effect within 1 s")
    func controlPlaneDriven() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "client")
            let server = try await node2.addPod("server", namespace: "ns1", serviceAccount: "server", labels: ["app": "server"])
            _ = try await server.serve(.echo, port: 8080)

            let mesh = try await MeshHarness(topology)
            mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
            var controlPlane = try await mesh.startControlPlane(on: node1)
            try await mesh.applyToControlPlane(from: node1)
            _ = try await mesh.startDaemon(on: node1, control: node1)
            let daemon2 = try await mesh.startDaemon(on: node2, control: node1)
            for pod in [client, server] { try await mesh.waitUntilEnrolled(pod) }

            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: "via the control plane") == "via the control plane")
            try await waitUntil("node2 logs the client's identity") {
                !daemon2.accessLog(containing: "\"mode\":\"hbone\"", mesh.identity(of: client)).isEmpty
            }

            // The control plane dies hard; the data plane keeps its config and certificates.
            controlPlane.signal(SIGKILL)
            _ = try await controlPlane.waitForExit(timeout: 5)
            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: "still up") == "still up")

            // It comes back; the nodes resync, and a new policy reaches node2 and takes effect.
            controlPlane = try await mesh.startControlPlane(on: node1)
            mesh.add("""
                kind: AuthorizationPolicy
                metadata: {name: deny-client, namespace: ns1}
                spec:
                  selector: {matchLabels: {app: server}}
                  action: DENY
                  rules: [{from: [{source: {principals: [cluster.local/ns/ns1/sa/client]}}]}]
                """)
            let started = Date()
            try await mesh.applyToControlPlane(from: node1)
            try await waitUntil("the DENY policy takes effect", timeoutSeconds: 10) {
                ((try? await client.roundTrip(to: server.ip, port: 8080, sending: "x")) ?? "") != "x"
            }
            let elapsed = Date().timeIntervalSince(started)
            print("policy applied through the control plane → enforced by node2 in \(Int(elapsed * 1000)) ms")
            #expect(elapsed < 1.0, "a policy change must take effect within 1 s, took \(elapsed) s")
            await controlPlane.terminate()
        }
    }
}
