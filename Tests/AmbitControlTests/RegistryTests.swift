import AmbitControl
import AmbitCore
import Foundation
import Testing

@Suite("Registry: validated, atomic applies")
struct RegistryTests {
    static let base = """
        kind: Namespace
        metadata: {name: shop, labels: {ambit.dev/dataplane-mode: ambient}}
        ---
        kind: Workload
        metadata: {name: cart, namespace: shop, labels: {app: cart}}
        spec: {serviceAccount: cart, node: n1, addresses: [10.0.0.1]}
        """

    @Test("apply creates, re-apply is unchanged, a change configures, each with its resourceVersion")
    func lifecycle() throws {
        let registry = try Registry(store: MemoryStore())
        let first = try registry.apply(Self.base, file: "a.yaml")
        #expect(first.map(\.action) == [.created, .created])
        let again = try registry.apply(Self.base, file: "a.yaml")
        #expect(again.map(\.action) == [.unchanged, .unchanged])
        #expect(registry.revision == 1, "an unchanged apply is not a new revision")
        let changed = try registry.apply(Self.base.replacingOccurrences(of: "10.0.0.1", with: "10.0.0.2"), file: "a.yaml")
        #expect(changed.map(\.action) == [.unchanged, .configured])
        #expect(registry.snapshot.workloads.first?.addresses.map(\.description) == ["10.0.0.2"])
    }

    @Test("a bad document anywhere refuses the whole batch and changes nothing")
    func atomic() throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(Self.base, file: "a.yaml")
        let bad = """
            kind: Service
            metadata: {name: web, namespace: shop}
            spec: {selector: {app: web}, addresses: [10.96.0.1], ports: [{port: 80}]}
            ---
            kind: Workload
            metadata: {name: web, namespace: shop}
            spec: {node: n1, addresses: [10.0.0.300]}
            """
        do {
            try registry.apply(bad, file: "bad.yaml")
            Issue.record("accepted a bad batch")
        } catch {
            #expect("\(error)" == "bad.yaml, document 2 (Workload shop/web): spec.addresses[0]: '10.0.0.300' is not an IPv4 or IPv6 address")
        }
        #expect(registry.snapshot.services.isEmpty, "the good document of a refused batch must not be stored")
        #expect(registry.revision == 1)
    }

    @Test("the mesh after the batch must hold together: an address already in use is refused")
    func wholeMeshChecked() throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(Self.base, file: "a.yaml")
        let clash = """
            kind: Workload
            metadata: {name: other, namespace: shop}
            spec: {node: n1, addresses: [10.0.0.1]}
            """
        #expect(throws: ResourceError.self) { try registry.apply(clash, file: "b.yaml") }
        #expect(registry.snapshot.workloads.count == 1)
    }

    @Test("a stale resourceVersion is refused with what to do")
    func optimisticConcurrency() throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(Self.base, file: "a.yaml")
        try registry.label(ResourceKey(kind: "Workload", namespace: "shop", name: "cart"), ["version": "v2"])
        let stale = """
            kind: Workload
            metadata: {name: cart, namespace: shop, resourceVersion: "1", labels: {app: cart}}
            spec: {serviceAccount: cart, node: n1, addresses: [10.0.0.9]}
            """
        do {
            try registry.apply(stale, file: "c.yaml")
            Issue.record("accepted a stale update")
        } catch {
            #expect("\(error)".contains("expected resourceVersion 1, but the stored resourceVersion is 2; re-read the resource and retry"))
        }
    }

    @Test("label sets and removes labels, and the snapshot follows")
    func labels() throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(Self.base, file: "a.yaml")
        let key = ResourceKey(kind: "Workload", namespace: "shop", name: "cart")
        try registry.label(key, [MeshLabels.dataplaneMode: MeshLabels.none])
        let cart = try #require(registry.snapshot.workloads.first)
        #expect(!registry.snapshot.isEnrolled(cart))
        try registry.label(key, [MeshLabels.dataplaneMode: String?.none])
        #expect(registry.snapshot.isEnrolled(try #require(registry.snapshot.workloads.first)))
    }

    @Test("delete removes; deleting what is not there names it")
    func delete() throws {
        let registry = try Registry(store: MemoryStore())
        try registry.apply(Self.base, file: "a.yaml")
        let key = ResourceKey(kind: "Workload", namespace: "shop", name: "cart")
        try registry.delete([key])
        #expect(registry.snapshot.workloads.isEmpty)
        #expect(throws: ControlError.self) { try registry.delete([key]) }
    }
}
