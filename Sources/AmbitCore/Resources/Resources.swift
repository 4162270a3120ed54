/// The resources of a mesh, in the shapes users already write for Kubernetes and Istio.
///
/// These are plain values: decoding (`ResourceDecoder`) validates them, `MeshSnapshot`
/// indexes them, and nothing here does I/O.

/// `metadata` of every resource.
public struct ObjectMeta: Hashable, Sendable {
    public var name: String
    /// Empty for cluster-scoped kinds (Namespace, MeshConfig).
    public var namespace: String
    public var labels: [String: String]

    public init(name: String, namespace: String = "", labels: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
    }

    public var key: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// Well-known labels, as users know them from Istio ambient (with Ambit's prefix).
public enum MeshLabels {
    /// `ambient` on a namespace or workload enrols it; `none` on a workload opts it out.
    public static let dataplaneMode = "ambit.dev/dataplane-mode"
    public static let ambient = "ambient"
    public static let none = "none"
    /// On a namespace or Service: send its traffic through this waypoint.
    public static let useWaypoint = "ambit.dev/use-waypoint"
    /// On a waypoint's workload: the Gateway it serves (Istio labels waypoint pods the same
    /// way). Such a workload is never enrolled: it terminates HBONE itself.
    public static let gatewayName = "gateway.networking.k8s.io/gateway-name"

    /// The service account of the waypoint for Gateway `gateway`: the Gateway's name, as
    /// Istio names it, so policies written for Istio's waypoints carry over. (A workload
    /// given the same service account in that namespace would share the identity, as in
    /// Istio: keep service accounts and Gateway names apart.)
    public static func waypointServiceAccount(gateway: String) -> String { gateway }
}

public struct Namespace: Hashable, Sendable {
    public var metadata: ObjectMeta
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

/// One pod of a standalone install (a Kubernetes Pod, as far as the mesh cares).
public struct Workload: Hashable, Sendable {
    public var metadata: ObjectMeta
    public var serviceAccount: String
    /// The node whose daemon serves this workload.
    public var node: String
    public var addresses: [IPAddress]
    /// `/var/run/netns/NAME` or `/proc/PID/ns/net`; needed only on the workload's node.
    public var netns: String?
    /// The pod's own resolvers, where its DNS goes when the name is not a mesh name.
    public var dnsServers: [IPAddress]

    public init(metadata: ObjectMeta, serviceAccount: String, node: String, addresses: [IPAddress], netns: String? = nil, dnsServers: [IPAddress] = []) {
        self.metadata = metadata
        self.serviceAccount = serviceAccount
        self.node = node
        self.addresses = addresses
        self.netns = netns
        self.dnsServers = dnsServers
    }
}

public struct ServicePort: Hashable, Sendable {
    public var name: String?
    public var port: Int
    public var targetPort: Int
    /// `http`, `http2`, `grpc`, `tcp`… (Kubernetes `appProtocol`).
    public var appProtocol: String?

    public init(name: String? = nil, port: Int, targetPort: Int? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.targetPort = targetPort ?? port
        self.appProtocol = appProtocol
    }
}

public struct Service: Hashable, Sendable {
    public var metadata: ObjectMeta
    /// Workloads in the service's namespace whose labels include all of these.
    public var selector: [String: String]
    /// Virtual IPs (Kubernetes `clusterIPs`).
    public var addresses: [IPAddress]
    public var ports: [ServicePort]

    public init(metadata: ObjectMeta, selector: [String: String], addresses: [IPAddress], ports: [ServicePort]) {
        self.metadata = metadata
        self.selector = selector
        self.addresses = addresses
        self.ports = ports
    }

    /// `NAME.NAMESPACE.svc.<domain>`.
    public func hostname(clusterDomain: String) -> String {
        "\(metadata.name).\(metadata.namespace).svc.\(clusterDomain)"
    }
}

/// Istio's `PeerAuthentication` mutual-TLS modes.
public enum MutualTLSMode: String, Hashable, Sendable, CaseIterable {
    case unset = "UNSET"
    case permissive = "PERMISSIVE"
    case strict = "STRICT"
    case disable = "DISABLE"
}

public struct PeerAuthentication: Hashable, Sendable {
    public var metadata: ObjectMeta
    /// nil: the whole namespace (or the mesh, in the root namespace).
    public var selector: [String: String]?
    public var mode: MutualTLSMode
    /// Per-port overrides (`portLevelMtls`), keyed by the workload's port.
    public var portModes: [Int: MutualTLSMode]

    public init(metadata: ObjectMeta, selector: [String: String]? = nil, mode: MutualTLSMode, portModes: [Int: MutualTLSMode] = [:]) {
        self.metadata = metadata
        self.selector = selector
        self.mode = mode
        self.portModes = portModes
    }
}

/// Mesh-wide settings: the trust domain, the CA the daemons use in file mode, names.
public struct MeshConfig: Hashable, Sendable {
    public var trustDomain = "cluster.local"
    public var clusterDomain = "cluster.local"
    /// Policies in this namespace apply to the whole mesh (Istio's root namespace).
    public var rootNamespace = "ambit-system"
    /// In file mode: the CA directory (`ca-cert.pem`, `ca-key.pem`, `root-cert.pem`…)
    /// the node signs its workloads' certificates with.
    public var caDirectory: String?
    /// Lifetime of workload certificates, seconds.
    public var certificateTTL: Double = 24 * 3600

    public init() {}
}

/// Any resource a config file or the control plane can hold.
public enum Resource: Hashable, Sendable {
    case namespace(Namespace)
    case workload(Workload)
    case service(Service)
    case authorizationPolicy(AuthorizationPolicy)
    case peerAuthentication(PeerAuthentication)
    case meshConfig(MeshConfig)
    case gateway(Gateway)
    case httpRoute(HTTPRoute)
    case grpcRoute(GRPCRoute)
    case destinationRule(DestinationRule)
    case httpFault(HTTPFault)

    public var kind: String {
        switch self {
        case .namespace: "Namespace"
        case .workload: "Workload"
        case .service: "Service"
        case .authorizationPolicy: "AuthorizationPolicy"
        case .peerAuthentication: "PeerAuthentication"
        case .meshConfig: "MeshConfig"
        case .gateway: "Gateway"
        case .httpRoute: "HTTPRoute"
        case .grpcRoute: "GRPCRoute"
        case .destinationRule: "DestinationRule"
        case .httpFault: "HTTPFault"
        }
    }

    /// nil for MeshConfig, which has no name that matters.
    public var metadata: ObjectMeta? {
        switch self {
        case .namespace(let r): r.metadata
        case .workload(let r): r.metadata
        case .service(let r): r.metadata
        case .authorizationPolicy(let r): r.metadata
        case .peerAuthentication(let r): r.metadata
        case .meshConfig: nil
        case .gateway(let r): r.metadata
        case .httpRoute(let r): r.metadata
        case .grpcRoute(let r): r.metadata
        case .destinationRule(let r): r.metadata
        case .httpFault(let r): r.metadata
        }
    }
}
