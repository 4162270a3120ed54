import AmbitAPI
import AmbitControl
import AmbitCore
import AmbitIdentity
import AmbitTesting
import Foundation
import GRPCCore
import Testing

/// A waypoint as a control-plane client, against the real `ambit control` in process:
/// it joins with a waypoint token, holds its own identity, and follows its scoped config.
@Suite("Waypoint joins the control plane", .serialized)
struct WaypointJoinTests {
    static let kind = DataPlaneKind.waypoint(namespace: "shop", name: "waypoint")

    @Test(.timeLimit(.minutes(2)))
    func aWaypointJoinsGetsItsIdentityAndFollowsItsScopedConfig() async throws {
        let (plane, task, dir) = try await ControlPlaneTests.start()
        defer { Task { await ControlPlaneTests.stop(task, dir) } }
        try plane.registry.apply(WaypointScopeTests.yaml, file: "mesh.yaml")
        let ports = try await plane.boundPorts()
        let token = try plane.certificates.tokens.create(.waypoint(namespace: "shop", gateway: "waypoint"))
        let stateDir = dir + "-waypoint"
        defer { try? FileManager.default.removeItem(atPath: stateDir) }

        let joined = try await DataPlaneControl.join(
            kind: Self.kind, control: HostPort(host: "127.0.0.1", port: ports.main), token: token,
            trustBundle: dir + "/ca/root-cert.pem", stateDir: stateDir, joinPort: ports.join)
        let own = try SpiffeID(parsing: "spiffe://cluster.local/ns/shop/sa/waypoint")
        #expect(joined.connection.identity == own)
        #expect(joined.connection.certificate.identity == own)
        #expect(plane.certificates.tokens.outstanding == 0)

        // Its serving certificate is its own identity, and only that.
        let served = try await joined.identityProvider.fetchCertificate(for: own)
        #expect(served.identity == own)
        _ = try await SpiffeVerifier(trustBundle: joined.connection.trustBundle).verify(chain: served.chain, expected: [own]).get()
        await #expect(throws: IdentityError.self) { try await joined.identityProvider.fetchCertificate(for: try SpiffeID(parsing: "spiffe://cluster.local/ns/shop/sa/cart")) }
        // The CA renews its own identity for it.
        try await joined.connection.renew()
        #expect(joined.connection.certificate.serial != served.serial)

        let running = Task { await joined.run() }
        defer { running.cancel() }
        var snapshots = joined.config.snapshots().makeAsyncIterator()
        let first = try #require(await snapshots.next())
        #expect(first.gateways.map(\.metadata.key) == ["shop/waypoint"])
        #expect(first.services.map(\.metadata.key).sorted() == ["audit/recorder", "canary/cart-v2", "shop/cart"])
        #expect(first.httpRoutes.map(\.metadata.key).sorted() == ["shop/cart", "shop/gateway-wide"])
        #expect(first.workloads.map(\.metadata.key).sorted() == ["audit/recorder-1", "canary/cart-v2-1", "shop/cart-1"])

        // A new route for one of its services reaches it; the push registry shows the waypoint.
        try plane.registry.apply(
            "kind: HTTPRoute\nmetadata: {name: extra, namespace: shop}\nspec: {parentRefs: [{kind: Service, name: cart, port: 80}], rules: [{backendRefs: [{name: cart, port: 80}]}]}",
            file: "route.yaml")
        let next = try #require(await snapshots.next())
        #expect(next.httpRoutes.map(\.metadata.key).sorted() == ["shop/cart", "shop/extra", "shop/gateway-wide"])
        let status = try #require(plane.push.node("shop/waypoint"))
        #expect(status.connected && status.node.identity == own.uri && status.node.metadata["role"] == "waypoint")
        #expect(Set(status.types.map(\.typeURL)) == Set(ResourceTypes.waypoint))
        running.cancel()
        await running.value
    }

    @Test("only the waypoint's own identity subscribes as it, and only to a Gateway that exists")
    func whoMaySubscribeAsAWaypoint() async throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(WaypointScopeTests.yaml, file: "mesh.yaml")
        let identities = ControlIdentities(trustDomain: "cluster.local")
        let provider = RegistryConfigProvider(registry: registry, identities: identities)
        func ask(_ id: String, as name: String) async throws -> DesiredConfig {
            try await provider.desiredConfig(for: PushNode(id: name, metadata: ["role": "waypoint"], identity: id))
        }
        let desired = try await ask("spiffe://cluster.local/ns/shop/sa/waypoint", as: "shop/waypoint")
        #expect(desired.resources[ResourceTypes.gateway]?.map(\.name) == ["shop/waypoint"])
        #expect(Set(desired.resources.keys) == Set(ResourceTypes.waypoint))

        // A node, or another waypoint, claiming to be this one.
        for impostor in ["spiffe://cluster.local/ns/ambit-system/sa/node-n1", "spiffe://cluster.local/ns/other/sa/waypoint"] {
            let error = try await #require(throws: RPCError.self) { try await ask(impostor, as: "shop/waypoint") }
            #expect(error.code == .permissionDenied, "\(error)")
        }
        // The right identity for a Gateway that is not there (any workload could hold it).
        let missing = try await #require(throws: RPCError.self) { try await ask("spiffe://cluster.local/ns/shop/sa/nope", as: "shop/nope") }
        #expect(missing.code == .failedPrecondition)
        #expect(missing.message.contains("there is no Gateway shop/nope"))
        // A workload identity without the waypoint role is no node either.
        let workload = try await #require(throws: RPCError.self) {
            try await provider.desiredConfig(for: PushNode(id: "cart", identity: "spiffe://cluster.local/ns/shop/sa/cart"))
        }
        #expect(workload.code == .permissionDenied)
    }
}
