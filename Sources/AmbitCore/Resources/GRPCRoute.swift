/// Gateway API `GRPCRoute`: routing of gRPC calls by service and method name.
///
/// gRPC has its own route kind because its matches are about `package.Service/Method`
/// rather than paths, and because redirects and rewrites make no sense for it; the rest
/// (parents, header filters, mirrors, weighted backends) is shared with HTTPRoute.
public struct GRPCRoute: Hashable, Sendable {
    public var metadata: ObjectMeta
    public var parentRefs: [ParentReference]
    /// Host names the route applies to; empty: any host.
    public var hostnames: [String]
    public var rules: [Rule]

    public init(metadata: ObjectMeta, parentRefs: [ParentReference], hostnames: [String] = [], rules: [Rule]) {
        self.metadata = metadata
        self.parentRefs = parentRefs
        self.hostnames = hostnames
        self.rules = rules
    }

    public struct Rule: Hashable, Sendable {
        public var name: String?
        /// OR'd; empty matches every call.
        public var matches: [Match]
        public var filters: [Filter]
        public var backendRefs: [BackendRef]

        public init(name: String? = nil, matches: [Match] = [], filters: [Filter] = [], backendRefs: [BackendRef] = []) {
            self.name = name
            self.matches = matches
            self.filters = filters
            self.backendRefs = backendRefs
        }
    }

    /// Conditions AND'd together; a match with neither matches every call.
    public struct Match: Hashable, Sendable {
        public var method: MethodMatch?
        public var headers: [HeaderMatch]
        public init(method: MethodMatch? = nil, headers: [HeaderMatch] = []) {
            self.method = method
            self.headers = headers
        }
    }

    /// `service` is the fully qualified gRPC service (`shop.v1.Cart`), `method` its method
    /// (`AddItem`); a nil part matches any.
    public struct MethodMatch: Hashable, Sendable {
        public var type: StringMatchType
        public var service: String?
        public var method: String?
        public init(type: StringMatchType = .exact, service: String? = nil, method: String? = nil) {
            self.type = type
            self.service = service
            self.method = method
        }
    }

    public enum Filter: Hashable, Sendable {
        case requestHeaderModifier(HeaderModifier)
        case responseHeaderModifier(HeaderModifier)
        case requestMirror(RequestMirror)

        public var type: String {
            switch self {
            case .requestHeaderModifier: "RequestHeaderModifier"
            case .responseHeaderModifier: "ResponseHeaderModifier"
            case .requestMirror: "RequestMirror"
            }
        }
    }

    public struct BackendRef: Hashable, Sendable {
        public var backend: BackendReference
        public var filters: [Filter]
        public init(backend: BackendReference, filters: [Filter] = []) {
            self.backend = backend
            self.filters = filters
        }
    }
}
