/// A Gateway API `Gateway` of class `ambit-waypoint`: one waypoint (L7 proxy), as Istio
/// ambient declares its waypoints.
///
/// Services and namespaces opt in with the `ambit.dev/use-waypoint: NAME` label; routes
/// attach to the Gateway (or to a Service) through `parentRefs`. Gateways of any other class
/// belong to some other controller, and Ambit refuses them rather than store a Gateway
/// nothing would ever program.
public struct Gateway: Hashable, Sendable {
    /// The only `gatewayClassName` Ambit implements.
    public static let waypointClassName = "ambit-waypoint"

    public enum ListenerProtocol: String, Hashable, Sendable, CaseIterable {
        /// Mesh traffic arriving through the HBONE tunnel: what a waypoint normally serves.
        case hbone = "HBONE"
        case http = "HTTP"
        case tcp = "TCP"

        /// Whether HTTPRoutes and GRPCRoutes can attach to a listener of this protocol.
        /// HBONE carries the HTTP inside the tunnel, so routes apply to it as in Istio.
        public var acceptsHTTPRoutes: Bool { self != .tcp }
    }

    /// Which namespaces may attach routes to a listener (`allowedRoutes.namespaces.from`).
    public enum RouteNamespaces: Hashable, Sendable {
        /// Only the Gateway's own namespace: Gateway API's default.
        case same
        case all
        /// Namespaces whose labels include all of these.
        case selector([String: String])
    }

    public struct Listener: Hashable, Sendable {
        public var name: String
        public var port: Int
        public var `protocol`: ListenerProtocol
        /// Only requests for this host (or, with a leading `*.`, its subdomains).
        public var hostname: String?
        public var allowedRoutes: RouteNamespaces

        public init(name: String, port: Int, protocol: ListenerProtocol, hostname: String? = nil, allowedRoutes: RouteNamespaces = .same) {
            self.name = name
            self.port = port
            self.protocol = `protocol`
            self.hostname = hostname
            self.allowedRoutes = allowedRoutes
        }

        /// What an Istio waypoint listens on when it declares nothing else.
        public static let defaultWaypoint = Listener(name: "mesh", port: 15008, protocol: .hbone)
    }

    public struct Address: Hashable, Sendable {
        public enum AddressType: String, Hashable, Sendable, CaseIterable {
            case ipAddress = "IPAddress"
            case hostname = "Hostname"
        }
        public var type: AddressType
        public var value: String
        public init(type: AddressType = .ipAddress, value: String) {
            self.type = type
            self.value = value
        }
    }

    public var metadata: ObjectMeta
    /// Always `ambit-waypoint` once decoded.
    public var gatewayClassName: String
    /// Never empty: one HBONE listener on 15008 when the document lists none.
    public var listeners: [Listener]
    /// Where the waypoint can be reached; empty lets the control plane choose.
    public var addresses: [Address]

    public init(metadata: ObjectMeta, listeners: [Listener] = [.defaultWaypoint], addresses: [Address] = []) {
        self.metadata = metadata
        self.gatewayClassName = Self.waypointClassName
        self.listeners = listeners
        self.addresses = addresses
    }

    /// Listeners that hold an HBONE port: mesh traffic can reach the waypoint only there.
    public var hboneListeners: [Listener] { listeners.filter { $0.protocol == .hbone } }
}

/// Hostnames as Gateway API compares them (route hostnames against listener hostnames).
public enum HostnameMatch {
    /// Whether two hostnames, either possibly `*.suffix`, can name the same request host.
    /// A wildcard covers subdomains only, so `*.example.com` does not match `example.com`.
    public static func intersects(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        switch (a.hasPrefix("*."), b.hasPrefix("*.")) {
        case (true, true): return a.dropFirst().hasSuffix(b.dropFirst()) || b.dropFirst().hasSuffix(a.dropFirst())
        case (true, false): return b.hasSuffix(a.dropFirst())
        case (false, true): return a.hasSuffix(b.dropFirst())
        case (false, false): return false
        }
    }
}
