import AmbitAPI
import AmbitCore
import GRPCCore

/// The push's view of the registry: each subscriber's desired config, and a notification
/// after every committed change.
///
/// Who may subscribe, and to what, is decided by the identity proven with mTLS, never by
/// what the request says:
/// - a node identity, only as itself (the request's node name must match the certificate),
///   receives `NodeScope`;
/// - a waypoint, `spiffe://<td>/ns/<ns>/sa/<name>` asking as `<ns>/<name>` with role
///   `waypoint`, receives `WaypointScope` of Gateway `<ns>/<name>`, which must exist (the
///   identity alone could be any workload's service account).
///
/// So no node or waypoint can read another's config, and a workload certificate reads none.
public struct RegistryConfigProvider: DesiredConfigProvider {
    public let registry: Registry
    public let identities: ControlIdentities
    /// Shared by every stream this provider serves: each resource is encoded once per
    /// version, not once per subscriber.
    private let encodings = ResourceEncodings()

    public init(registry: Registry, identities: ControlIdentities) {
        self.registry = registry
        self.identities = identities
    }

    public func desiredConfig(for node: PushNode) async throws -> DesiredConfig {
        guard let text = node.identity, let id = try? SpiffeID(parsing: text) else {
            throw RPCError(code: .permissionDenied, message: "only nodes and waypoints may subscribe to config, over mutual TLS; \(node.identity ?? "an unauthenticated client") is neither")
        }
        let store = registry.store.snapshot()
        let snapshot = registry.snapshot
        let scoped: [ScopedResource]
        let types: [String]
        if node.metadata["role"] == DataPlaneKind.waypointRole {
            let parts = node.id.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, let expected = try? identities.waypoint(namespace: parts[0], gateway: parts[1]) else {
                throw RPCError(code: .invalidArgument, message: "a waypoint subscribes as NAMESPACE/GATEWAY, not '\(node.id)'")
            }
            guard expected == id else {
                throw RPCError(code: .permissionDenied, message: "\(id) may not subscribe as waypoint \(node.id) (that is \(expected))")
            }
            guard let resources = WaypointScope.select(forGateway: parts[0], parts[1], stored: store.resources, snapshot: snapshot) else {
                throw RPCError(
                    code: .failedPrecondition,
                    message: "there is no Gateway \(node.id) of class \(Gateway.waypointClassName); apply it (`ambit apply -f`), the waypoint retries")
            }
            scoped = resources
            types = ResourceTypes.waypoint
        } else {
            guard let name = identities.nodeName(of: id) else {
                throw RPCError(code: .permissionDenied, message: "only nodes and waypoints may subscribe to config; \(id) is neither")
            }
            guard name == node.id else {
                throw RPCError(code: .permissionDenied, message: "\(id) may subscribe only as node \(name), not \(node.id)")
            }
            scoped = NodeScope.select(for: name, stored: store.resources, snapshot: snapshot)
            types = ResourceTypes.node
        }
        encodings.prune(keeping: store.resources)
        var resources: [String: [Ambit_V1_Resource]] = [:]
        for resource in scoped {
            resources[ResourceTypes.typeURL(kind: resource.stored.key.kind), default: []].append(encodings.encoded(resource))
        }
        for type in types where resources[type] == nil { resources[type] = [] }
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
