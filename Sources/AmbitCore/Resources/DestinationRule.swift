/// Istio's `DestinationRule`: how a waypoint treats the endpoints of one host once routing
/// has chosen it — load balancing, connection-pool limits, outlier detection, subsets.
///
/// A section left out of the document stays nil (the mesh default applies, or the
/// enclosing policy for a subset or port); a section that is present has every field
/// filled in with Istio's default, so `outlierDetection: {}` reads as 5 errors, 10 s,
/// 30 s, 10 %.
public struct DestinationRule: Hashable, Sendable {
    public var metadata: ObjectMeta
    /// As written: a short name (`cart`, meaning `cart.<this namespace>.svc.<domain>`), a
    /// fully qualified name, or a `*.` wildcard.
    public var host: String
    public var trafficPolicy: TrafficPolicy?
    public var subsets: [Subset]

    public init(metadata: ObjectMeta, host: String, trafficPolicy: TrafficPolicy? = nil, subsets: [Subset] = []) {
        self.metadata = metadata
        self.host = host
        self.trafficPolicy = trafficPolicy
        self.subsets = subsets
    }

    /// The host as Istio reads it: a name without a dot is short for a Service in the
    /// rule's own namespace; anything with a dot is taken as written.
    public func fullyQualifiedHost(clusterDomain: String) -> String {
        host.contains(".") || host == "*" ? host : "\(host).\(metadata.namespace).svc.\(clusterDomain)"
    }

    public struct TrafficPolicy: Hashable, Sendable {
        public var loadBalancer: LoadBalancer?
        public var connectionPool: ConnectionPool?
        public var outlierDetection: OutlierDetection?
        /// Overrides for single ports of the destination (not allowed inside these).
        public var portLevelSettings: [PortTrafficPolicy]

        public init(
            loadBalancer: LoadBalancer? = nil, connectionPool: ConnectionPool? = nil, outlierDetection: OutlierDetection? = nil,
            portLevelSettings: [PortTrafficPolicy] = []
        ) {
            self.loadBalancer = loadBalancer
            self.connectionPool = connectionPool
            self.outlierDetection = outlierDetection
            self.portLevelSettings = portLevelSettings
        }
    }

    public struct PortTrafficPolicy: Hashable, Sendable {
        public var port: Int
        public var loadBalancer: LoadBalancer?
        public var connectionPool: ConnectionPool?
        public var outlierDetection: OutlierDetection?
        public init(port: Int, loadBalancer: LoadBalancer? = nil, connectionPool: ConnectionPool? = nil, outlierDetection: OutlierDetection? = nil) {
            self.port = port
            self.loadBalancer = loadBalancer
            self.connectionPool = connectionPool
            self.outlierDetection = outlierDetection
        }
    }

    /// A named group of the host's endpoints, chosen by labels.
    public struct Subset: Hashable, Sendable {
        public var name: String
        public var labels: [String: String]
        public var trafficPolicy: TrafficPolicy?
        public init(name: String, labels: [String: String], trafficPolicy: TrafficPolicy? = nil) {
            self.name = name
            self.labels = labels
            self.trafficPolicy = trafficPolicy
        }
    }

    public enum LoadBalancer: Hashable, Sendable {
        case simple(SimpleLoadBalancer)
        case consistentHash(ConsistentHash)

        /// What applies when no rule says: least request, as Istio recommends.
        public static let `default` = LoadBalancer.simple(.leastRequest)
    }

    public enum SimpleLoadBalancer: String, Hashable, Sendable, CaseIterable {
        case roundRobin = "ROUND_ROBIN"
        /// Power of two choices: the less loaded of two random endpoints.
        case leastRequest = "LEAST_REQUEST"
        case random = "RANDOM"
        /// Send to the address the client asked for, with no balancing.
        case passthrough = "PASSTHROUGH"
    }

    public struct ConsistentHash: Hashable, Sendable {
        public enum Key: Hashable, Sendable {
            case httpHeaderName(String)
            /// With a `ttl`, the proxy sets the cookie when the request has none.
            case httpCookie(name: String, path: String?, ttl: Duration?)
            case useSourceIp
            case httpQueryParameterName(String)
        }
        public enum Algorithm: Hashable, Sendable {
            case ringHash(minimumRingSize: Int)
            /// `tableSize` is prime.
            case maglev(tableSize: Int)

            /// Envoy's defaults.
            public static let defaultMinimumRingSize = 1024
            public static let defaultTableSize = 65537
        }
        public var key: Key
        /// Ring hash with 1024 entries when the document does not choose.
        public var algorithm: Algorithm

        public init(key: Key, algorithm: Algorithm = .ringHash(minimumRingSize: Algorithm.defaultMinimumRingSize)) {
            self.key = key
            self.algorithm = algorithm
        }
    }

    /// Limits per destination host; going over one answers 503 with `x-envoy-overloaded`.
    public struct ConnectionPool: Hashable, Sendable {
        /// Istio's "no limit" (2^32 − 1).
        public static let unlimited = Int(UInt32.max)

        public struct TCP: Hashable, Sendable {
            public var maxConnections = ConnectionPool.unlimited
            public var connectTimeout = Duration.seconds(10)
            public init() {}
        }
        public struct HTTP: Hashable, Sendable {
            public var http1MaxPendingRequests = ConnectionPool.unlimited
            public var http2MaxRequests = ConnectionPool.unlimited
            /// 0: no limit.
            public var maxRequestsPerConnection = 0
            /// Retries outstanding at once to the host.
            public var maxRetries = ConnectionPool.unlimited
            /// An upstream connection unused this long is closed.
            public var idleTimeout = Duration.seconds(3600)
            public init() {}
        }
        public var tcp: TCP
        public var http: HTTP
        public init(tcp: TCP = TCP(), http: HTTP = HTTP()) {
            self.tcp = tcp
            self.http = http
        }
    }

    /// Ejection of endpoints that keep failing, with Istio's field names and defaults.
    public struct OutlierDetection: Hashable, Sendable {
        /// 0 turns this check off.
        public var consecutive5xxErrors = 5
        /// 502, 503, 504 and connection failures; 0 (the default) turns it off.
        public var consecutiveGatewayErrors = 0
        public var interval = Duration.seconds(10)
        /// Multiplied by how often the host was ejected, capped at 300 s.
        public var baseEjectionTime = Duration.seconds(30)
        /// At least one host can always be ejected, whatever the percentage.
        public var maxEjectionPercent = 10
        /// Below this share of healthy hosts, ejection stops (Istio's default 0: never).
        public var minHealthPercent = 0
        public init() {}
    }
}
