import AmbitAPI
import AmbitCore
import GRPCCore

/// The push's view of the registry: each node's desired config (`NodeScope`), and a
/// notification after every committed change.
///
/// Only a node identity (proven by mTLS) may subscribe, and only as itself: the node
/// name in the request must match the certificate, so no node can read another's config.
public struct RegistryConfigProvider: DesiredConfigProvider {
    public let registry: Registry
    public let identities: ControlIdentities

    public init(registry: Registry, identities: ControlIdentities) {
        self.registry = registry
        self.identities = identities
    }

    public func desiredConfig(for node: PushNode) async throws -> DesiredConfig {
        guard let text = node.identity, let id = try? SpiffeID(parsing: text), let name = identities.nodeName(of: id) else {
            throw RPCError(
                code: .permissionDenied,
                message: "only nodes may subscribe to config; \(node.identity ?? "an unauthenticated client") is not a node identity")
        }
        guard name == node.id else {
            throw RPCError(code: .permissionDenied, message: "\(id) may subscribe only as node \(name), not \(node.id)")
        }
        let store = registry.store.snapshot()
        let snapshot = registry.snapshot
        var resources: [String: [Ambit_V1_Resource]] = [:]
        for resource in NodeScope.resources(for: name, stored: store.resources, snapshot: snapshot) {
            let key = resource.key
            let resourceName = key.namespace.isEmpty ? key.name : "\(key.namespace)/\(key.name)"
            resources[ResourceTypes.typeURL(kind: key.kind), default: []].append(Ambit_V1_Resource(name: resourceName, document: resource.document))
        }
        for type in ResourceTypes.node where resources[type] == nil { resources[type] = [] }
        return DesiredConfig(version: String(store.revision), resources: resources)
    }

    public func changes() -> AsyncStream<Void> {
        let watch = registry.store.watch()
        return AsyncStream { continuation in
            let task = Task {
                for await _ in watch.commits { continuation.yield(()) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
