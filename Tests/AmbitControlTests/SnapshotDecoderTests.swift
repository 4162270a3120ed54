import AmbitAPI
import AmbitCore
import Testing

@Suite("Incremental snapshot decoding")
struct SnapshotDecoderTests {
    typealias F = PushFixtures

    static func config(_ workloads: [Ambit_V1_Resource]) -> AcceptedConfig {
        AcceptedConfig(
            resources: [F.ns: ["ns1": F.namespace("ns1")], F.ws: Dictionary(uniqueKeysWithValues: workloads.map { ($0.name, $0) })],
            systemVersions: [F.ns: "1", F.ws: "1"])
    }

    static func addresses(_ s: MeshSnapshot) -> [String: String] {
        Dictionary(uniqueKeysWithValues: s.workloads.map { ($0.metadata.key, $0.addresses.map(\.description).joined()) })
    }

    @Test("it builds what a full decode builds, change after change")
    func sameAsFullDecode() throws {
        let decoder = SnapshotDecoder()
        let sets = [
            Self.config([F.workload("w1", address: "10.0.0.1"), F.workload("w2", address: "10.0.0.2")]),
            Self.config([F.workload("w1", address: "10.0.0.1"), F.workload("w2", address: "10.0.0.9"), F.workload("w3", address: "10.0.0.3")]),
            Self.config([F.workload("w3", address: "10.0.0.3")]),
        ]
        for set in sets {
            #expect(Self.addresses(try decoder.snapshot(of: set)) == Self.addresses(try set.meshSnapshot()))
        }
    }

    @Test("a changed body is decoded again even when its stated version did not change")
    func keyedByBytesNotVersion() throws {
        let decoder = SnapshotDecoder()
        _ = try decoder.snapshot(of: Self.config([F.workload("w1", address: "10.0.0.1")]))
        var lying = F.workload("w1", address: "10.0.0.7")
        lying.version = F.workload("w1", address: "10.0.0.1").version
        #expect(Self.addresses(try decoder.snapshot(of: Self.config([lying]))) == ["ns1/w1": "10.0.0.7"])
    }

    @Test("a set that does not build leaves the last good decodes in place and names the problem")
    func failureKeepsThePrevious() throws {
        let decoder = SnapshotDecoder()
        _ = try decoder.snapshot(of: Self.config([F.workload("w1", address: "10.0.0.1")]))
        let clash = Self.config([F.workload("w1", address: "10.0.0.1"), F.workload("w2", address: "10.0.0.1")])
        let error = try #require(throws: ResourceError.self) { try decoder.snapshot(of: clash) }
        #expect("\(error)".contains("10.0.0.1 is already the address of workload ns1/w1"))
        #expect(Self.addresses(try decoder.snapshot(of: Self.config([F.workload("w1", address: "10.0.0.1")]))) == ["ns1/w1": "10.0.0.1"])
    }
}
