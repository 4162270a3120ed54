import AmbitCore
import Foundation
import Testing

/// The example shipped in config/examples must stay valid as the schema grows.
@Suite("Shipped example configs")
struct ExampleConfigTests {
    @Test("config/examples/node-mesh.yaml validates and means what docs/node.md says")
    func nodeExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("config/examples/node-mesh.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let snapshot = try MeshSnapshot(try ResourceDecoder.decodeFile(text, file: path))
        #expect(snapshot.workloads.count == 3)
        let cart = try #require(snapshot.workloads.first { $0.metadata.name == "cart-7d9f" })
        let billing = try #require(snapshot.workloads.first { $0.metadata.name == "billing-0" })
        #expect(snapshot.isEnrolled(cart) && !snapshot.isEnrolled(billing))
        #expect(snapshot.identity(of: cart)?.uri == "spiffe://cluster.local/ns/shop/sa/cart")
        #expect(snapshot.mutualTLSMode(for: cart, port: 8080) == .strict)
        let service = try #require(snapshot.services.first)
        #expect(snapshot.endpoints(of: service).map(\.metadata.name) == ["cart-7d9f"])
        #expect(snapshot.mesh.caDirectory == "/var/lib/ambit/ca")
    }
}
