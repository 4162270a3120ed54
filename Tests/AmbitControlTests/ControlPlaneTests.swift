import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Testing
import X509

/// `ambit control` in process, reached the way the CLI and a node reach it: real gRPC on
/// 127.0.0.1 with mutual TLS.
@Suite("Control plane end to end", .serialized)
struct ControlPlaneTests {
    static func start() async throws -> (ControlPlane, Task<Void, any Error>, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ambit-cp-\(UUID().uuidString)").path
        let port = Int.random(in: 30000...40000) * 2 % 60000 + 2000
        var configuration = ControlPlane.Configuration(dataDirectory: dir)
        configuration.listen = HostPort(host: "127.0.0.1", port: port)
        configuration.joinListen = HostPort(host: "127.0.0.1", port: port + 1)
        configuration.advertise = HostPort(host: "127.0.0.1", port: port)
        let plane = try await ControlPlane.start(configuration)
        let task = Task { try await plane.run() }
        _ = try await plane.boundPorts()
        return (plane, task, dir)
    }

    static func stop(_ task: Task<Void, any Error>, _ dir: String) async {
        task.cancel()
        _ = await task.result
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A node client of `plane`: joins with a fresh token over TLS, then subscribes over mTLS.
    static func joinedClient(_ plane: ControlPlane, node name: String) async throws -> ControlPlaneClient {
        let ports = try await plane.boundPorts()
        let token = try plane.certificates.tokens.create(.node(name: name))
        let nodeID = try plane.identities.node(name)
        let (csr, key) = try CSRBuilder.make(for: nodeID)
        let bundlePEM = plane.certificates.trustBundlePEM
        let verifier = SpiffeVerifier(trustBundle: try TrustBundle(trustDomain: "cluster.local", pem: bundlePEM, source: "test"))
        var join = Ambit_V1_JoinRequest()
        join.token = token
        join.csrPem = try csr.serializeAsPEM().pemString
        let joinSecurity = HTTP2ClientTransport.Posix.TransportSecurity.tls { config in
            config.trustRoots = .certificates([.bytes(Array(bundlePEM.utf8), format: .pem)])
            config.serverCertificateVerification = .noHostnameVerification
        }
        let joinTransport = try HTTP2ClientTransport.Posix(target: GRPCTarget.make(host: "127.0.0.1", port: ports.join), transportSecurity: joinSecurity)
        let request = join
        let joined = try await withGRPCClient(transport: joinTransport) { grpc in
            try await Ambit_V1_Certificates.Client(wrapping: grpc).join(request)
        }
        let chain = try joined.certChainPem.map { try Certificate(pemEncoded: $0) }
        let nodeCertificate = try WorkloadCertificate(identity: nodeID, chain: chain, privateKey: key)
        var node = Ambit_V1_Node()
        node.id = name
        return ControlPlaneClient(
            configuration: .init(
                host: "127.0.0.1", port: ports.main,
                security: .tls(try ControlPlaneTLS.client(certificate: nodeCertificate, verifier: verifier, expectedServer: [plane.identities.control])),
                node: node, typeURLs: ResourceTypes.node),
            validate: { c in do { _ = try c.meshSnapshot(); return nil } catch { return "\(error)" } })
    }

    @Test("2 nodes × 50 workloads × 20 services converge, each node with its own pods in full")
    func convergence() async throws {
        let (plane, task, dir) = try await Self.start()
        defer { Task { await Self.stop(task, dir) } }
        var docs = ["kind: Namespace\nmetadata: {name: big, labels: {ambit.dev/dataplane-mode: ambient}}"]
        for n in 1...2 {
            for i in 0..<50 {
                docs.append("kind: Workload\nmetadata: {name: w\(n)-\(i), namespace: big, labels: {app: s\(i % 20)}}\nspec: {serviceAccount: sa\(i % 7), node: node\(n), addresses: [10.\(n).\(i / 200).\(i % 200 + 1)], netns: /var/run/netns/w\(n)-\(i)}")
            }
        }
        for s in 0..<20 {
            docs.append("kind: Service\nmetadata: {name: s\(s), namespace: big}\nspec: {selector: {app: s\(s)}, addresses: [10.96.1.\(s + 1)], ports: [{port: 80, targetPort: 8080}]}")
        }
        let started = Date()
        try plane.registry.apply(docs.joined(separator: "\n---\n"), file: "big.yaml")
        let clients = [try await Self.joinedClient(plane, node: "node1"), try await Self.joinedClient(plane, node: "node2")]
        let tasks = clients.map { c in Task { await c.run() } }
        defer { for t in tasks { t.cancel() } }
        try await waitUntil("both nodes converge", timeoutSeconds: 15) {
            clients.allSatisfy { c in
                guard let s = try? c.accepted.meshSnapshot() else { return false }
                return s.workloads.count == 100 && s.services.count == 20
            }
        }
        print("2 nodes × 50 workloads each × 20 services converged in \(Int(Date().timeIntervalSince(started) * 1000)) ms (including both joins)")
        for (n, c) in clients.enumerated() {
            let s = try c.accepted.meshSnapshot()
            #expect(s.workloads.filter { $0.netns != nil }.allSatisfy { $0.node == "node\(n + 1)" }, "only a node's own pods carry their netns")
            #expect(s.workloads.filter { $0.node == "node\(n + 1)" }.count == 50)
            #expect(s.endpoints(of: try #require(s.services.first { $0.metadata.name == "s0" })).count == 6)
        }
    }

    static let mesh = """
        kind: Namespace
        metadata: {name: shop, labels: {ambit.dev/dataplane-mode: ambient}}
        ---
        kind: Workload
        metadata: {name: cart, namespace: shop, labels: {app: cart}}
        spec: {serviceAccount: cart, node: node1, addresses: [10.0.0.1], netns: /var/run/netns/cart}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop}
        spec: {selector: {app: cart}, addresses: [10.96.0.1], ports: [{port: 80, targetPort: 8080}]}
        """

    @Test("the CLI's calls: a bad file names what to fix, apply, get, label, status")
    func adminAPI() async throws {
        let (plane, task, dir) = try await Self.start()
        defer { Task { await Self.stop(task, dir) } }
        let cli = try AdminCommands.connect(ambitconfig: plane.adminConfigPath)
        let bad = dir + "/bad.yaml"
        try "kind: Workload\nmetadata: {name: x, namespace: shop}\nspec: {node: n1, addresses: [10.0.0.300]}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        do {
            _ = try await cli.apply(paths: [bad], dryRun: false)
            Issue.record("a bad file was applied")
        } catch {
            #expect("\(error)" == "\(bad), document 1 (Workload shop/x): spec.addresses[0]: '10.0.0.300' is not an IPv4 or IPv6 address")
        }
        let good = dir + "/mesh.yaml"
        try Self.mesh.write(toFile: good, atomically: true, encoding: .utf8)
        #expect(try await cli.apply(paths: [good], dryRun: false) == ["namespace/shop created", "workload/shop/cart created", "service/shop/cart created"])
        #expect(try await cli.apply(paths: [good], dryRun: false).allSatisfy { $0.hasSuffix("unchanged") })
        let yaml = try await cli.get(kind: "workload", name: "cart", namespace: "shop", format: .yaml)
        #expect(yaml.contains("resourceVersion: \"1\"") || yaml.contains("resourceVersion: 1"), "\(yaml)")
        #expect(try await cli.get(kind: "svc", name: nil, namespace: nil, format: .table).contains("cart"))
        #expect(try await cli.label(kind: "workload", name: "cart", namespace: "shop", changes: ["version=v2"]).contains("labeled"))
        let status = try await cli.status()
        #expect(status.contains("store revision 2") && status.contains("Workload 1"), "\(status)")
    }

    @Test("a node joins with a token, then receives its scoped config over mTLS")
    func joinAndPush() async throws {
        let (plane, task, dir) = try await Self.start()
        defer { Task { await Self.stop(task, dir) } }
        try plane.registry.apply(Self.mesh, file: "mesh.yaml")
        let client = try await Self.joinedClient(plane, node: "node1")
        let running = Task { await client.run() }
        defer { running.cancel() }
        try await waitUntil("node1 receives its config", timeoutSeconds: 10) {
            (try? client.accepted.meshSnapshot())?.workloads.map(\.metadata.name) == ["cart"]
        }
        let received = try client.accepted.meshSnapshot()
        #expect(received.workloads.first?.netns == "/var/run/netns/cart", "its own pod arrives in full")
        // A change reaches it.
        let started = Date()
        try plane.registry.apply(Self.mesh.replacingOccurrences(of: "10.96.0.1]", with: "10.96.0.2]"), file: "mesh.yaml")
        try await waitUntil("the change reaches node1", timeoutSeconds: 5) {
            (try? client.accepted.meshSnapshot())?.services.first?.addresses.map(\.description) == ["10.96.0.2"]
        }
        let elapsed = Date().timeIntervalSince(started)
        print("config change applied → accepted by the node in \(Int(elapsed * 1000)) ms")
        #expect(elapsed < 1.0, "a change must reach a node within 1 s, took \(elapsed) s")
    }

    @Test("day two: status shows workloads with identities and certificates, waypoints; proxy-config shows what a node ACKed")
    func dayTwoViews() async throws {
        let (plane, task, dir) = try await Self.start()
        defer { Task { await Self.stop(task, dir) } }
        try plane.registry.apply(
            Self.mesh + """

                ---
                kind: Workload
                metadata: {name: legacy, namespace: shop, labels: {ambit.dev/dataplane-mode: none}}
                spec: {serviceAccount: legacy, node: node1, addresses: [10.0.0.2]}
                ---
                kind: Gateway
                metadata: {name: waypoint, namespace: shop}
                spec: {gatewayClassName: ambit-waypoint}
                """, file: "mesh.yaml")
        let client = try await Self.joinedClient(plane, node: "node1")
        let running = Task { await client.run() }
        defer { running.cancel() }
        try await waitUntil("node1 receives its config", timeoutSeconds: 10) {
            (try? client.accepted.meshSnapshot())?.workloads.count == 2
        }
        // The node asks for its workload's certificate, as its daemon does after enrolling.
        let cart = try SpiffeID(parsing: "spiffe://cluster.local/ns/shop/sa/cart")
        let (csr, _) = try CSRBuilder.make(for: cart)
        _ = try await plane.certificates.issue(csrPEM: try csr.serializeAsPEM().pemString, requester: try plane.identities.node("node1"))

        let cli = try AdminCommands.connect(ambitconfig: plane.adminConfigPath)
        var status = ""
        try await waitUntil("node1 shows in sync", timeoutSeconds: 5) {
            status = (try? await cli.status()) ?? ""
            return status.contains("node node1: connected, in sync")
        }
        // Lifetimes: 7 days for the control plane's own, 10 years for the root, 24 h for a
        // workload's (each maybe a few minutes either side: the CA backdates).
        let serving = "serving certificate spiffe://cluster.local/ns/ambit-system/sa/control expires in "
        #expect(status.contains(serving + "7d 0h") || status.contains(serving + "6d 23h"), "\(status)")
        #expect(status.contains("root CN=Ambit mesh root CA (cluster.local),O=Ambit expires in 10y 0d") || status.contains("expires in 9y 364d"), "\(status)")
        let cartRow = try #require(status.split(separator: "\n").first { $0.hasPrefix("shop") && $0.contains(" cart ") })
        #expect(cartRow.contains("node1") && cartRow.contains("yes") && cartRow.contains("spiffe://cluster.local/ns/shop/sa/cart"), "\(cartRow)")
        #expect(cartRow.contains("expires in 1d 0h") || cartRow.contains("expires in 23h"), "the workload certificate's expiry: \(cartRow)")
        #expect(status.contains("shop/legacy: opted out: ambit.dev/dataplane-mode=none"), "\(status)")
        let waypointRow = try #require(status.split(separator: "\n").first { $0.hasPrefix("shop") && $0.contains(" waypoint ") })
        #expect(waypointRow.contains("never connected") && waypointRow.contains("spiffe://cluster.local/ns/shop/sa/waypoint"), "\(waypointRow)")

        let table = try await cli.proxyConfig(name: "node1", format: .table)
        #expect(table.contains("node node1: connected, in sync"), "\(table)")
        let workloadRow = try #require(table.split(separator: "\n").first { $0.hasPrefix("Workload") && $0.contains("shop/cart") })
        #expect(workloadRow.hasSuffix("accepted"), "\(workloadRow)")
        let json = try await cli.proxyConfig(name: "node1", format: .json)
        #expect(json.contains("\"netns\":\"/var/run/netns/cart\""), "the documents node1 accepted, in full: \(json)")
        do {
            _ = try await cli.proxyConfig(name: "node9", format: .table)
            Issue.record("an unknown node was answered")
        } catch {
            #expect("\(error)".contains("no node or waypoint named 'node9'") && "\(error)".contains("known: node1"), "\(error)")
        }
    }
}
