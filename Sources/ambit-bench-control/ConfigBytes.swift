import AmbitAPI
import AmbitControl
import AmbitCore

/// What one node receives, in bytes: the `DeltaDiscoveryResponse` messages the push sends
/// it (protobuf encoding; gRPC adds 5 bytes of framing per message, then HTTP/2 and TLS
/// their own). Computed by running the node's stream state (`PushSession`) over the
/// control plane's real desired config for that node (`RegistryConfigProvider`, i.e.
/// `NodeScope`), the same code the server runs per stream.
struct ConfigBytes {
    private var session = PushSession()
    private let provider: RegistryConfigProvider
    private let node: PushNode

    init(registry: Registry, identities: ControlIdentities, node name: String) throws {
        provider = RegistryConfigProvider(registry: registry, identities: identities)
        node = PushNode(id: name, metadata: ["role": "node"], identity: try identities.node(name).uri)
    }

    /// The initial sync of a node that holds nothing: one response per type.
    mutating func initialSync() async throws -> (bytes: Int, resources: Int) {
        session = PushSession(desired: try await provider.desiredConfig(for: node))
        var responses: [Ambit_V1_DeltaDiscoveryResponse] = []
        for typeURL in ResourceTypes.node {
            var request = Ambit_V1_DeltaDiscoveryRequest()
            request.typeURL = typeURL
            if let r = session.receive(request) { responses.append(r) }
        }
        return try acknowledge(responses)
    }

    /// What the node receives after the store changed since the last call.
    mutating func change() async throws -> (bytes: Int, resources: Int) {
        try acknowledge(session.update(try await provider.desiredConfig(for: node)))
    }

    private mutating func acknowledge(_ responses: [Ambit_V1_DeltaDiscoveryResponse]) throws -> (bytes: Int, resources: Int) {
        var bytes = 0
        var resources = 0
        for r in responses {
            let encoded: [UInt8] = try r.serializedBytes()
            bytes += encoded.count
            resources += r.resources.count
            var ack = Ambit_V1_DeltaDiscoveryRequest()
            ack.typeURL = r.typeURL
            ack.responseNonce = r.nonce
            _ = session.receive(ack)
        }
        return (bytes, resources)
    }
}
