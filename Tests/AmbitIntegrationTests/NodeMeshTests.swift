import AmbitCore
import AmbitTesting
import Foundation
import Glibc
import Testing

/// `ambit node` in real namespaces: two nodes, pods in an enrolled and a plain namespace,
/// real nftables rules, real daemons (the built `ambit` binary), traffic from real sockets.
@Suite("Node daemon in a two-node topology", .needsRoot, .serialized)
struct NodeMeshTests {
    static let echoService = """
        kind: Service
        metadata: {name: echo, namespace: ns1}
        spec:
          selector: {app: echo}
          addresses: [10.96.0.10]
          ports: [{port: 80, targetPort: 8080}]
        """

    @Test("HBONE between enrolled pods, passthrough, plaintext under PERMISSIVE and STRICT, VIP round robin, DNS")
    func trafficPaths() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "client")
            let outsider = try await node1.addPod("outsider", namespace: "plain", serviceAccount: "outsider")
            let server = try await node2.addPod("server", namespace: "ns1", serviceAccount: "server", labels: ["app": "echo"])
            let server2 = try await node1.addPod("server2", namespace: "ns1", serviceAccount: "server", labels: ["app": "echo"])
            let legacy = try await node2.addPod("legacy", namespace: "plain", serviceAccount: "legacy")
            let echo1 = try await server.serve(.echo, port: 8080)
            let echo2 = try await server2.serve(.echo, port: 8080)
            _ = try await legacy.serve(.echo, port: 8080)

            let mesh = try await MeshHarness(topology)
            mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
            mesh.add(Self.echoService)
            try mesh.apply()
            _ = try await mesh.startDaemon(on: node1)
            let daemon2 = try await mesh.startDaemon(on: node2)
            for pod in [client, server, server2] { try await mesh.waitUntilEnrolled(pod) }

            // enrolled → enrolled: HBONE, the server side knows the client's identity, and the
            // node-to-node link carries TLS records, never the payload.
            let capture = try await node1.capture()
            let marker = "secret-payload-\(UUID().uuidString)"
            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: marker) == marker)
            let traffic = try await capture.stop()
            #expect(!traffic.contains(marker), "the payload crossed the node link in plaintext")
            #expect(traffic.containsTLSApplicationData, "no TLS records on the node link")
            try await waitUntil("node2 logs the tunnelled connection") {
                !daemon2.accessLog(containing: "\"reporter\":\"destination\"", "\"mode\":\"hbone\"", mesh.identity(of: client)).isEmpty
            }

            // enrolled → not enrolled: passes through untouched.
            #expect(try await client.roundTrip(to: legacy.ip, port: 8080, sending: "hello legacy") == "hello legacy")

            // not enrolled → enrolled: plaintext is accepted under PERMISSIVE (the default)…
            #expect(try await outsider.roundTrip(to: server.ip, port: 8080, sending: "plain hello") == "plain hello")
            // …and refused under STRICT.
            mesh.add("""
                kind: PeerAuthentication
                metadata: {name: strict, namespace: ns1}
                spec: {mtls: {mode: STRICT}}
                """)
            try mesh.apply()
            try await waitUntil("STRICT refuses plaintext", timeoutSeconds: 10) {
                ((try? await outsider.roundTrip(to: server.ip, port: 8080, sending: "plain again")) ?? "") != "plain again"
            }
            // Mesh traffic is unaffected by STRICT.
            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: "still mtls") == "still mtls")

            // Service VIP → endpoints, round robin.
            let before = echo1.connectionsAccepted + echo2.connectionsAccepted
            let firstBefore = echo1.connectionsAccepted
            for i in 0..<6 {
                #expect(try await client.roundTrip(to: "10.96.0.10", port: 80, sending: "vip \(i)") == "vip \(i)")
            }
            #expect(echo1.connectionsAccepted + echo2.connectionsAccepted - before == 6)
            #expect(echo1.connectionsAccepted - firstBefore == 3, "round robin should split 6 connections 3/3")

            // Mesh names resolve through the daemon's DNS (any resolver address is captured).
            for name in ["echo.ns1.svc.cluster.local", "echo", "echo.ns1"] {
                let answer = try TestDNS.answers(
                    try await client.udpExchange(to: "10.250.0.53", port: 53, payload: TestDNS.query(name)))
                #expect(answer.rcode == 0 && answer.addresses == ["10.96.0.10"], "\(name) → \(answer)")
            }

            let metrics = try await daemon2.metrics()
            #expect(metrics.contains("istio_tcp_connections_opened_total{reporter=\"destination\""))
            #expect(metrics.contains("connection_security_policy=\"mutual_tls\""))
        }
    }

    @Test("L4 authorization: DENY by namespace, ALLOW by principal, spoofed source addresses, re-check on change")
    func authorization() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "client")
            let other = try await node1.addPod("other", namespace: "ns1", serviceAccount: "other")
            let intruder = try await node1.addPod("intruder", namespace: "ns3", serviceAccount: "intruder")
            let server = try await node2.addPod("server", namespace: "ns1", serviceAccount: "server", labels: ["app": "server"])
            _ = try await server.serve(.echo, port: 8080)

            let mesh = try await MeshHarness(topology)
            mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
            mesh.label(namespace: "ns3", MeshLabels.dataplaneMode, MeshLabels.ambient)
            try mesh.apply()
            _ = try await mesh.startDaemon(on: node1)
            let daemon2 = try await mesh.startDaemon(on: node2)
            for pod in [client, other, intruder, server] { try await mesh.waitUntilEnrolled(pod) }
            #expect(try await intruder.roundTrip(to: server.ip, port: 8080, sending: "before") == "before")

            // A DENY policy by source namespace blocks ns3 and nobody else.
            mesh.add("""
                kind: AuthorizationPolicy
                metadata: {name: deny-ns3, namespace: ns1}
                spec:
                  selector: {matchLabels: {app: server}}
                  action: DENY
                  rules: [{from: [{source: {namespaces: [ns3]}}]}]
                """)
            try mesh.apply()
            try await waitUntil("the DENY policy blocks ns3") {
                ((try? await intruder.roundTrip(to: server.ip, port: 8080, sending: "x")) ?? "") != "x"
            }
            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: "ok") == "ok")

            // An ALLOW policy by principal admits one client and not another.
            mesh.removeExtra(containing: "deny-ns3")
            mesh.add("""
                kind: AuthorizationPolicy
                metadata: {name: allow-client, namespace: ns1}
                spec:
                  selector: {matchLabels: {app: server}}
                  rules: [{from: [{source: {principals: [cluster.local/ns/ns1/sa/client]}}]}]
                """)
            // A connection open before the change is closed by it (other is not allowed).
            let open = try await other.connect(to: server.ip, port: 8080)
            try await BlockingSocket.run { try open.send("early") }
            #expect(String(decoding: try await BlockingSocket.run { try open.read(exactly: 5) }, as: UTF8.self) == "early")
            try mesh.apply()
            // Until the daemon has the policy, other's connections still go through; wait
            // for the first one refused at the CONNECT.
            let denials = { daemon2.accessLog(containing: "AuthorizationPolicyDenied", mesh.identity(of: other)).count }
            try await waitUntil("the ALLOW policy refuses other") {
                _ = try? await other.roundTrip(to: server.ip, port: 8080, sending: "x")
                return denials() > 0
            }
            #expect(try await client.roundTrip(to: server.ip, port: 8080, sending: "allowed") == "allowed")
            let closedByPolicy = try await BlockingSocket.run { (try? open.readToEnd()) ?? [] }
            #expect(closedByPolicy.isEmpty, "the connection opened before the policy should have been closed")

            // A pod that forges client's address still gets its own identity, so it is denied.
            let deniedBefore = denials()
            _ = try await other.run(["ip", "addr", "add", "\(client.ip)/32", "dev", "eth0"]).checked()
            let spoofed = try await other.connect(to: server.ip, port: 8080, from: client.ip)
            let reply = try await BlockingSocket.run { () -> [UInt8] in
                try? spoofed.send("spoof")
                spoofed.shutdownWrite()
                return (try? spoofed.readToEnd()) ?? []
            }
            #expect(reply.isEmpty, "a spoofed source address must not borrow client's identity")
            try await waitUntil("node2 logs the denial under other's identity") { denials() > deniedBefore }
            #expect(daemon2.accessLog(containing: "AuthorizationPolicyDenied", mesh.identity(of: client)).isEmpty)
        }
    }

    @Test("un-enrolment leaves no table and no listener; a restarted daemon re-enrols; 200 concurrent connections stay intact")
    func lifecycle() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "client")
            let leaver = try await node1.addPod("leaver", namespace: "ns1", serviceAccount: "leaver")
            let server = try await node2.addPod("server", namespace: "ns1", serviceAccount: "server")
            let departed = try await node2.addPod("departed", namespace: "ns1", serviceAccount: "departed")
            let sink = try await server.serve(.sink, port: 9090)
            _ = try await server.serve(.echo, port: 8080)

            let mesh = try await MeshHarness(topology)
            mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
            try mesh.apply()
            _ = try await mesh.startDaemon(on: node1)
            var daemon2 = try await mesh.startDaemon(on: node2, drainSeconds: 3)
            for pod in [client, leaver, server, departed] { try await mesh.waitUntilEnrolled(pod) }
            let meshPorts: Set<Int> = [15001, 15006, 15008, 15053]
            #expect(try await leaver.listeningPorts().isSuperset(of: meshPorts))

            // Un-enrolment by label: the table goes and the listeners close.
            mesh.label(leaver, MeshLabels.dataplaneMode, MeshLabels.none)
            try mesh.apply()
            try await mesh.waitUntilNotEnrolled(leaver)
            try await waitUntil("the leaver's listeners close") { try await leaver.listeningPorts().isDisjoint(with: meshPorts) }
            let ruleset = try await leaver.run(["nft", "list", "ruleset"]).stdout
            #expect(!ruleset.contains("ambit"))
            // It still reaches the server, as a plaintext client now.
            #expect(try await leaver.roundTrip(to: server.ip, port: 8080, sending: "bye") == "bye")

            // SIGTERM drains: an open connection keeps working for the drain time while new
            // ones are no longer taken, then it is closed and the daemon exits.
            let held = try await client.connect(to: server.ip, port: 8080)
            #expect(try await Self.echo("one", over: held) == "one")
            daemon2.process.signal(SIGTERM)
            try await Task.sleep(nanoseconds: 500_000_000)
            #expect(daemon2.process.isRunning, "the daemon should still be draining")
            #expect(try await Self.echo("two", over: held) == "two", "an open connection must survive the start of a drain")
            #expect(((try? await client.roundTrip(to: server.ip, port: 8080, sending: "new")) ?? "") != "new",
                    "a draining daemon must not take new connections")
            _ = try await daemon2.process.waitForExit(timeout: 10)
            let rest = try await BlockingSocket.run { (try? held.readToEnd()) ?? [] }
            #expect(rest.isEmpty, "the drained connection is closed when the daemon exits")

            // A daemon restart: the pod's rules stay while it is down, then it re-enrols and
            // traffic resumes. A pod deleted while it was down loses its rules.
            #expect(try await server.run(["nft", "list", "table", "inet", "ambit"]).succeeded, "rules stay over a restart")
            mesh.remove(departed)
            try mesh.apply()
            daemon2 = try await mesh.startDaemon(on: node2, drainSeconds: 3)
            try await mesh.waitUntilNotEnrolled(departed)
            try await waitUntil("traffic resumes after the restart", timeoutSeconds: 15) {
                ((try? await client.roundTrip(to: server.ip, port: 8080, sending: "again")) ?? "") == "again"
            }

            // 200 concurrent connections through the tunnel, each checksummed end to end.
            let count = 200
            let results = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for i in 0..<count {
                    group.addTask {
                        var bytes = [UInt8](repeating: 0, count: 32 * 1024 + i * 97)
                        for j in bytes.indices { bytes[j] = UInt8(truncatingIfNeeded: j &* 31 &+ i) }
                        let socket = try await client.connect(to: server.ip, port: 9090)
                        let payload = bytes
                        let reply = try await BlockingSocket.run { () -> [UInt8] in
                            try payload.withUnsafeBytes { try socket.send($0) }
                            socket.shutdownWrite()
                            return try socket.readToEnd()
                        }
                        return ("\(payload.count) \(sha256Hex(payload))", String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                    }
                }
                var all: [(String, String)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.count == count)
            let bad = results.filter { $0.0 != $0.1 }
            #expect(bad.isEmpty, "\(bad.count) of \(count) connections were damaged, e.g. \(bad.first.map { "\($0)" } ?? "")")
            #expect(sink.sinkResults.count >= count)
        }
    }

    /// Sends `text` on an open connection and reads the echo back.
    static func echo(_ text: String, over socket: BlockingSocket) async throws -> String {
        try await BlockingSocket.run {
            try socket.send(text)
            return String(decoding: try socket.read(exactly: text.utf8.count), as: UTF8.self)
        }
    }
}
