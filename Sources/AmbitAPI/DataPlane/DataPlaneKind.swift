import AmbitCore

/// Which kind of data-plane process is talking to the control plane. The kind decides the
/// identity it holds, what it subscribes to, how it names itself on the config stream and
/// what its files in the state directory are called; everything else about joining and
/// following the control plane is the same for both.
///
/// - a node daemon: `spiffe://<td>/ns/ambit-system/sa/node-<name>`; it receives its pods and
///   what they may reach (the control plane's `NodeScope`);
/// - a waypoint for Gateway `<ns>/<name>`: `spiffe://<td>/ns/<ns>/sa/<name>` (Istio's
///   naming; the identity nodes expect when they dial it, `MeshSnapshot.waypointIdentity`);
///   it receives its Gateway, routes, policies and backends (`WaypointScope`).
public enum DataPlaneKind: Sendable, Hashable, CustomStringConvertible {
    case node(name: String)
    case waypoint(namespace: String, name: String)

    /// The namespace of the mesh's own identities (nodes, the control plane, the CLI).
    public static let systemNamespace = "ambit-system"

    public func identity(trustDomain: String) throws(CoreError) -> SpiffeID {
        switch self {
        case .node(let name):
            return try SpiffeID(trustDomain: trustDomain, namespace: Self.systemNamespace, serviceAccount: "node-\(name)")
        case .waypoint(let namespace, let name):
            return try SpiffeID(trustDomain: trustDomain, namespace: namespace, serviceAccount: MeshLabels.waypointServiceAccount(gateway: name))
        }
    }

    /// The control plane's own identity in `trustDomain`: who a data-plane process expects
    /// at both control ports.
    public static func controlIdentity(trustDomain: String) throws(CoreError) -> SpiffeID {
        try SpiffeID(trustDomain: trustDomain, namespace: systemNamespace, serviceAccount: "control")
    }

    /// What it subscribes to on the config stream.
    public var typeURLs: [String] {
        switch self {
        case .node: ResourceTypes.node
        case .waypoint: ResourceTypes.waypoint
        }
    }

    /// `Node.id` and `Node.metadata["role"]` on the config stream: the control plane checks
    /// both against the client certificate.
    public var streamNode: Ambit_V1_Node {
        var node = Ambit_V1_Node()
        switch self {
        case .node(let name):
            node.id = name
            node.metadata = ["role": Self.nodeRole]
        case .waypoint(let namespace, let name):
            node.id = "\(namespace)/\(name)"
            node.metadata = ["role": Self.waypointRole]
        }
        return node
    }

    public static let nodeRole = "node"
    public static let waypointRole = "waypoint"

    /// The command that makes a join token for this process, for error messages.
    public var tokenCommand: String {
        switch self {
        case .node(let name): "ambit control token create --node \(name)"
        case .waypoint(let namespace, let name): "ambit control token create --waypoint \(namespace)/\(name)"
        }
    }

    /// The stem of its identity files in the state directory (`node.crt`, `waypoint.key`).
    var fileStem: String {
        switch self {
        case .node: "node"
        case .waypoint: "waypoint"
        }
    }

    public var description: String {
        switch self {
        case .node(let name): "node \(name)"
        case .waypoint(let namespace, let name): "waypoint \(namespace)/\(name)"
        }
    }
}
