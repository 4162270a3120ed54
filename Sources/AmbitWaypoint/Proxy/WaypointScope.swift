import AmbitCore

/// Which traffic this waypoint serves, as a pure lookup in a snapshot.
///
/// A waypoint is a Gateway (`namespace/name`); it serves the Services of its own namespace
/// that carry `ambit.dev/use-waypoint=<name>` themselves or through their namespace, the
/// same rule the node uses to send traffic here (`OutboundRoute`). A CONNECT for anything
/// else is refused: a waypoint is not an open relay into its namespace.
public struct WaypointScope: Sendable, Hashable {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// The service port a tunnel's `:authority` (service VIP:port) names.
    public struct Destination: Sendable {
        public let service: Service
        public let port: ServicePort
        public let tunnelProtocol: TunnelProtocol
    }

    /// What `destination(for:in:)` answers: served, unknown (503) or not ours (400: the
    /// node should never have sent it here).
    public enum Lookup: Sendable {
        case served(Destination)
        case unknown(String)
        case notServed(String)
    }

    public func destination(for authority: HostPort, in snapshot: MeshSnapshot) -> Lookup {
        guard let ip = IPAddress(authority.host) else {
            return .notServed("the CONNECT authority \(authority) is not a service VIP:port")
        }
        guard let service = snapshot.service(at: ip) else {
            return .unknown("no service has the address \(ip)")
        }
        guard service.metadata.namespace == namespace, snapshot.waypointName(for: service) == name else {
            return .notServed("service \(service.metadata.key) does not use waypoint \(namespace)/\(name)")
        }
        guard let port = service.ports.first(where: { $0.port == authority.port }) else {
            return .unknown("service \(service.metadata.key) has no port \(authority.port)")
        }
        return .served(Destination(service: service, port: port, tunnelProtocol: TunnelProtocol(appProtocol: port.appProtocol)))
    }

    /// The SPIFFE identity the waypoint presents: its Gateway's name is its service account,
    /// as Istio names waypoint service accounts after the Gateway.
    public func identity(trustDomain: String) throws -> SpiffeID {
        try SpiffeID(trustDomain: trustDomain, namespace: namespace, serviceAccount: name)
    }
}

/// What a tunnelled stream speaks, from the Service port's `appProtocol` (Kubernetes and
/// Istio spellings), or `.detect` when the port does not say.
public enum TunnelProtocol: Sendable, Equatable {
    /// HTTP/1.1, or HTTP/2 when the stream opens with the prior-knowledge preface.
    case http
    /// HTTP/2 with prior knowledge (h2c, gRPC).
    case http2
    /// Opaque bytes.
    case tcp
    /// Look at the first bytes (`ProtocolSniffer`).
    case detect

    public init(appProtocol: String?) {
        switch appProtocol?.lowercased() {
        case nil, "": self = .detect
        case "http", "http1", "http/1.1", "grpc-web": self = .http
        case "http2", "h2c", "grpc", "kubernetes.io/h2c": self = .http2
        default: self = .tcp
        }
    }
}
