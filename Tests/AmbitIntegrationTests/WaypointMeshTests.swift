import AmbitCore
import AmbitTesting
import Foundation
import Testing

/// `ambit waypoint` in real namespaces: the waypoint runs in its own pod on node1, a client
/// pod on node1 calls a service VIP whose service uses the waypoint, the backend runs on
/// node2. Real node daemons, real nftables, the built `ambit` binary.
@Suite("Waypoint in a two-node topology", .needsRoot, .serialized)
struct WaypointMeshTests {
    static let echoService = """
        kind: Service
        metadata: {name: echo, namespace: ns1, labels: {ambit.dev/use-waypoint: waypoint}}
        spec:
          selector: {app: echo}
          addresses: [10.96.0.10]
          ports: [{port: 80, targetPort: 8080}]
        """

    @Test("a request to a service that uses a waypoint goes through it, with the client's identity, and fails when it is down")
    func trafficGoesThroughTheWaypoint() async throws {
        try await withTopology { topology in
            let node1 = try await topology.addNode("node1")
            let node2 = try await topology.addNode("node2")
            let client = try await node1.addPod("client", namespace: "ns1", serviceAccount: "client")
            // The waypoint's pod is not captured by its node: it is the mesh's own proxy.
            let waypointPod = try await node1.addPod(
                "waypoint", namespace: "ns1", serviceAccount: "waypoint",
                labels: [OutboundGatewayLabel.name: "waypoint", MeshLabels.dataplaneMode: MeshLabels.none])
            let server = try await node2.addPod("server", namespace: "ns1", serviceAccount: "server", labels: ["app": "echo"])
            let app = try await server.serveHTTP(port: 8080, name: "server")

            let mesh = try await MeshHarness(topology)
            mesh.label(namespace: "ns1", MeshLabels.dataplaneMode, MeshLabels.ambient)
            mesh.add(Self.echoService)
            mesh.add(MeshHarness.waypointGateway(name: "waypoint", namespace: "ns1"))
            try mesh.apply()
            _ = try await mesh.startDaemon(on: node1)
            let daemon2 = try await mesh.startDaemon(on: node2)
            for pod in [client, server] { try await mesh.waitUntilEnrolled(pod) }
            let waypoint = try await mesh.startWaypoint(in: waypointPod, name: "waypoint")

            // client → VIP: node1 tunnels to the waypoint, the waypoint to the server's node.
            let reply = try await client.roundTrip(
                to: "10.96.0.10", port: 80, sending: "GET /via-waypoint HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
            #expect(reply.hasPrefix("HTTP/1.1 200 OK"), "\(reply)")
            #expect(reply.contains("server GET /via-waypoint 0"))
            #expect(reply.lowercased().contains("x-seen-request-id: "), "the waypoint gives each request an id")

            // The waypoint logged the request with the client's principal…
            try await waitUntil("the waypoint logs the request") {
                !waypoint.accessLog(containing: "\"path\":\"/via-waypoint\"", "\"response_code\":200", mesh.identity(of: client)).isEmpty
            }
            let metrics = try await waypoint.metrics()
            #expect(metrics.contains("istio_requests_total{reporter=\"waypoint\""))
            #expect(metrics.contains("source_principal=\"\(mesh.identity(of: client))\""))
            // …and the server's node sees the waypoint, not the client, as the tunnel's source
            // (the waypoint keeps that tunnel open for the next request: keep-alive).
            let connections = try await daemon2.get("/connections", port: 15000)
            #expect(connections.contains("\"peerIdentity\":\"spiffe://cluster.local/ns/ns1/sa/waypoint\""), "\(connections)")
            #expect(!connections.contains(mesh.identity(of: client)), "the client never reaches node2 directly")

            // With the waypoint down the request fails: traffic for it never bypasses it.
            await waypoint.stop()
            let served = app.requestsServed
            let after = try? await client.roundTrip(
                to: "10.96.0.10", port: 80, sending: "GET /after HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
            #expect(after?.contains("server GET /after") != true, "the request reached the server without the waypoint")
            #expect(app.requestsServed == served)
            await app.close()
        }
    }
}

/// The label Istio puts on waypoint pods (the node looks for it).
enum OutboundGatewayLabel {
    static let name = "gateway.networking.k8s.io/gateway-name"
}
