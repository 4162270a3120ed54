import AmbitCore

/// The `type_url`s of pushed resources: `type.ambit.dev/<Kind>`.
public enum ResourceTypes {
    public static let prefix = "type.ambit.dev/"

    public static let namespace = prefix + "Namespace"
    public static let workload = prefix + "Workload"
    public static let service = prefix + "Service"
    public static let authorizationPolicy = prefix + "AuthorizationPolicy"
    public static let peerAuthentication = prefix + "PeerAuthentication"
    public static let meshConfig = prefix + "MeshConfig"
    public static let httpRoute = prefix + "HTTPRoute"
    public static let grpcRoute = prefix + "GRPCRoute"
    public static let gateway = prefix + "Gateway"
    public static let destinationRule = prefix + "DestinationRule"
    public static let httpFault = prefix + "HTTPFault"

    /// What a node daemon subscribes to: the L4 kinds.
    public static let node = [meshConfig, namespace, workload, service, authorizationPolicy, peerAuthentication]

    /// What a waypoint subscribes to: the node's kinds and the L7 ones (its Gateway, routes,
    /// DestinationRules).
    public static let waypoint = node + [gateway, httpRoute, grpcRoute, destinationRule]

    /// Every type a `MeshSnapshot` is built from.
    public static let all = waypoint

    public static func typeURL(kind: String) -> String { prefix + kind }

    /// The kind a type URL names, or nil when it is not one of ours.
    public static func kind(of typeURL: String) -> String? {
        guard typeURL.hasPrefix(prefix), typeURL.count > prefix.count else { return nil }
        return String(typeURL.dropFirst(prefix.count))
    }
}

/// Helpers for resource bodies: canonical JSON of a document and a content version.
public enum ResourceBody {
    /// The canonical JSON of a document (`CanonicalJSON`): the same document always gives
    /// the same bytes, so versions derived from them are stable.
    public static func canonicalJSON(_ value: ConfigValue) -> String {
        CanonicalJSON.encode(CanonicalJSON.canonical(value))
    }

    /// A content hash (FNV-1a, 64 bits, hex) for providers that keep no versions of their own.
    public static func contentVersion<Bytes: Sequence>(_ body: Bytes) -> String where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in body {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The resource name used on the wire: `namespace/name`, or `name` when cluster-scoped.
    public static func name(of metadata: ObjectMeta) -> String { metadata.key }
}
