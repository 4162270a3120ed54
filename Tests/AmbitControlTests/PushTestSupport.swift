import AmbitAPI
import AmbitControl
import AmbitCore
import NIOConcurrencyHelpers

/// Resource documents for push tests, as the control plane would send them.
enum PushFixtures {
    static func document(_ json: String) -> ConfigValue {
        try! ConfigParser.documents(json, file: "fixture")[0]
    }

    static func namespace(_ name: String, labels: [String: String] = [:]) -> Ambit_V1_Resource {
        let labelText = labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        return Ambit_V1_Resource(
            name: name,
            document: document(#"{"apiVersion":"ambit.dev/v1","kind":"Namespace","metadata":{"name":"\#(name)","labels":{\#(labelText)}}}"#))
    }

    static func workload(_ name: String, namespace: String = "ns1", address: String, node: String = "node-1", version: String = "v1") -> Ambit_V1_Resource {
        Ambit_V1_Resource(
            name: "\(namespace)/\(name)",
            document: document(
                #"{"apiVersion":"ambit.dev/v1","kind":"Workload","metadata":{"name":"\#(name)","namespace":"\#(namespace)","labels":{"app":"\#(name)","version":"\#(version)"}},"spec":{"serviceAccount":"\#(name)","node":"\#(node)","addresses":["\#(address)"]}}"#
            ))
    }

    static func desired(_ version: String, _ resources: [String: [Ambit_V1_Resource]]) -> DesiredConfig {
        DesiredConfig(version: version, resources: resources)
    }

    static let ws = ResourceTypes.workload
    static let ns = ResourceTypes.namespace

    static func request(_ typeURL: String, nonce: String = "", error: String? = nil, initial: [String: String] = [:], node: String? = nil) -> Ambit_V1_DeltaDiscoveryRequest {
        var r = Ambit_V1_DeltaDiscoveryRequest()
        r.typeURL = typeURL
        r.responseNonce = nonce
        r.initialResourceVersions = initial
        if let error {
            var d = Ambit_V1_ErrorDetail()
            d.code = 3
            d.message = error
            r.errorDetail = d
        }
        if let node {
            var n = Ambit_V1_Node()
            n.id = node
            r.node = n
        }
        return r
    }

    /// The validation a node does: decode everything and build a snapshot.
    static let meshValidation: @Sendable (AcceptedConfig) -> String? = { candidate in
        do {
            _ = try candidate.meshSnapshot()
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// A provider whose desired config the test sets; every node gets the same.
final class TestConfigProvider: DesiredConfigProvider {
    private let state = NIOLockedValueBox<(config: DesiredConfig, watchers: [Int: AsyncStream<Void>.Continuation], next: Int, asked: [String])>(
        (.empty, [:], 0, []))

    init(_ config: DesiredConfig = .empty) {
        state.withLockedValue { $0.config = config }
    }

    func set(_ config: DesiredConfig) {
        let watchers = state.withLockedValue { s in
            s.config = config
            return Array(s.watchers.values)
        }
        for w in watchers { w.yield() }
    }

    var nodesAsked: [String] { state.withLockedValue { $0.asked } }

    func desiredConfig(for node: PushNode) async throws -> DesiredConfig {
        state.withLockedValue { s in
            s.asked.append(node.id)
            return s.config
        }
    }

    func changes() -> AsyncStream<Void> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let id = state.withLockedValue { s -> Int in
                s.next += 1
                s.watchers[s.next] = continuation
                return s.next
            }
            continuation.onTermination = { [state] _ in state.withLockedValue { _ = $0.watchers.removeValue(forKey: id) } }
        }
    }
}
