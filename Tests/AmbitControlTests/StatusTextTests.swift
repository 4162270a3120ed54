import AmbitAPI
import Foundation
import Testing

@testable import AmbitControl

/// `ambit status` and `ambit proxy-config` as an operator reads them, from made-up answers.
@Suite("Status and proxy-config text")
struct StatusTextTests {
    static let now = 1_800_000_000.0

    static func type(_ name: String, acked: String, pending: String = "", error: String = "") -> Ambit_V1_TypeStatus {
        var t = Ambit_V1_TypeStatus()
        t.typeURL = "type.ambit.dev/\(name)"
        t.ackedVersion = acked
        t.pendingNonce = pending
        t.lastError = error
        return t
    }

    static func response() -> Ambit_V1_StatusResponse {
        var s = Ambit_V1_StatusResponse()
        s.version = "7"
        s.controlPlane.trustDomain = "cluster.local"
        s.controlPlane.servingIdentity = "spiffe://cluster.local/ns/ambit-system/sa/control"
        s.controlPlane.servingNotAfterUnix = Int64(now + 3 * 86400 + 7200)
        var root = Ambit_V1_TrustRoot()
        root.subject = "CN=root"
        root.notAfterUnix = Int64(now - 90)
        s.controlPlane.roots = [root]
        var node = Ambit_V1_NodeStatus()
        node.nodeID = "node1"
        node.connected = true
        node.types = [type("Workload", acked: "7"), type("Service", acked: "6", error: "spec.ports[0]: bad")]
        var stale = Ambit_V1_NodeStatus()
        stale.nodeID = "shop/waypoint"
        stale.connected = false
        stale.types = [type("Gateway", acked: "5")]
        s.nodes = [node, stale]
        var cart = Ambit_V1_WorkloadStatus()
        (cart.namespace, cart.name, cart.node, cart.identity, cart.inMesh) = ("shop", "cart", "node1", "spiffe://cluster.local/ns/shop/sa/cart", true)
        var legacy = Ambit_V1_WorkloadStatus()
        (legacy.namespace, legacy.name, legacy.node, legacy.inMesh, legacy.reason) = ("shop", "legacy", "node1", false, "no label")
        s.workloads = [cart, legacy]
        var waypoint = Ambit_V1_WaypointStatus()
        (waypoint.namespace, waypoint.name, waypoint.identity, waypoint.services) = ("shop", "waypoint", "spiffe://cluster.local/ns/shop/sa/waypoint", ["shop/cart"])
        s.waypoints = [waypoint]
        // Two certificates for cart (two nodes, or a renewal): the newest counts.
        var older = Ambit_V1_CertificateStatus()
        (older.identity, older.notAfterUnix) = (cart.identity, Int64(now + 600))
        var newer = Ambit_V1_CertificateStatus()
        (newer.identity, newer.notAfterUnix) = (cart.identity, Int64(now + 12 * 3600 + 300))
        s.certificates = [older, newer]
        return s
    }

    @Test("expiry is relative and says EXPIRED when past; a NACK and a disconnected waypoint show")
    func statusText() {
        let text = StatusText.render(Self.response(), server: "cp:15012", now: Self.now)
        #expect(text.contains("serving certificate spiffe://cluster.local/ns/ambit-system/sa/control expires in 3d 2h"), "\(text)")
        #expect(text.contains("root CN=root EXPIRED 1m 30s ago"), "\(text)")
        #expect(text.contains("node node1: connected, syncing (Workload v7, Service v6); rejected: Service: spec.ports[0]: bad"), "\(text)")
        #expect(text.contains("waypoint shop/waypoint: disconnected"), "\(text)")
        let cart = text.split(separator: "\n").first { $0.hasPrefix("shop") && $0.contains(" cart ") }
        #expect(cart?.hasSuffix("expires in 12h 5m (2027-01-15T20:05:00Z)") == true, "the newest certificate: \(cart ?? "")")
        let waypoint = text.split(separator: "\n").first { $0.hasPrefix("shop") && $0.contains(" waypoint ") }
        #expect(waypoint?.contains("disconnected  shop/cart") == true && waypoint?.contains("none issued since start") == true, "\(waypoint ?? "")")
        #expect(text.contains("  shop/legacy: no label"), "\(text)")
    }

    @Test("proxy-config: accepted rows, a stale one, and a pending answer")
    func proxyConfigText() throws {
        var r = Ambit_V1_ProxyConfigResponse()
        var status = Ambit_V1_NodeStatus()
        status.nodeID = "node1"
        status.connected = true
        status.types = [Self.type("Workload", acked: "7", pending: "n3")]
        r.status = status
        r.offeredVersion = "8"
        var current = Ambit_V1_HeldResource()
        (current.typeURL, current.name, current.version, current.current) = ("type.ambit.dev/Workload", "shop/cart", "abc", true)
        current.body = Data(#"{"kind":"Workload","metadata":{"name":"cart","namespace":"shop"}}"#.utf8)
        var stale = Ambit_V1_HeldResource()
        (stale.typeURL, stale.name, stale.version, stale.current) = ("type.ambit.dev/Workload", "shop/old", "def", false)
        r.resources = [current, stale]
        let table = try ProxyConfigText.render(r, format: .table)
        #expect(table.contains("node node1: connected, syncing"), "\(table)")
        #expect(table.contains("awaiting an answer for Workload (nonce n3)"), "\(table)")
        #expect(table.contains("shop/cart  abc      accepted\n"), "\(table)")
        #expect(table.contains("shop/old   def      accepted; a newer version is offered (pending or rejected)"), "\(table)")
        // -o yaml prints the documents the control plane still has (the current ones).
        let yaml = try ProxyConfigText.render(r, format: .yaml)
        #expect(yaml.contains("name: cart") && !yaml.contains("old"), "\(yaml)")
    }
}
