/// Gateway API `HTTPRoute`: how a waypoint matches HTTP requests, edits them and spreads
/// them over backends.
///
/// Decoding fills in every default Gateway API defines (a rule with no match matches
/// `PathPrefix /`, a redirect answers 302, a backend weighs 1), so the waypoint reads
/// values, never absences.
public struct HTTPRoute: Hashable, Sendable {
    public var metadata: ObjectMeta
    public var parentRefs: [ParentReference]
    /// Host names the route applies to (`*.example.com` for subdomains); empty: any host.
    public var hostnames: [String]
    public var rules: [Rule]

    public init(metadata: ObjectMeta, parentRefs: [ParentReference], hostnames: [String] = [], rules: [Rule]) {
        self.metadata = metadata
        self.parentRefs = parentRefs
        self.hostnames = hostnames
        self.rules = rules
    }

    public struct Rule: Hashable, Sendable {
        /// Optional name, for status and metrics.
        public var name: String?
        /// OR'd; never empty (no match in the document means `PathPrefix /`).
        public var matches: [Match]
        public var filters: [Filter]
        /// Empty with a `RequestRedirect` filter; otherwise empty means every request gets 500.
        public var backendRefs: [BackendRef]
        public var timeouts: Timeouts
        /// nil: no retries (Envoy's and Gateway API's default).
        public var retry: Retry?

        public init(
            name: String? = nil, matches: [Match] = [Match()], filters: [Filter] = [], backendRefs: [BackendRef] = [],
            timeouts: Timeouts = Timeouts(), retry: Retry? = nil
        ) {
            self.name = name
            self.matches = matches
            self.filters = filters
            self.backendRefs = backendRefs
            self.timeouts = timeouts
            self.retry = retry
        }
    }

    /// Conditions AND'd together.
    public struct Match: Hashable, Sendable {
        public var path: PathMatch
        public var headers: [HeaderMatch]
        public var queryParams: [HeaderMatch]
        public var method: Method?

        public init(path: PathMatch = .default, headers: [HeaderMatch] = [], queryParams: [HeaderMatch] = [], method: Method? = nil) {
            self.path = path
            self.headers = headers
            self.queryParams = queryParams
            self.method = method
        }
    }

    public struct PathMatch: Hashable, Sendable {
        public enum MatchType: String, Hashable, Sendable, CaseIterable {
            case exact = "Exact"
            /// Segment-wise: `/foo` matches `/foo` and `/foo/bar`, not `/foobar`.
            case pathPrefix = "PathPrefix"
            case regularExpression = "RegularExpression"
        }
        public var type: MatchType
        public var value: String

        public init(type: MatchType = .pathPrefix, value: String = "/") {
            self.type = type
            self.value = value
        }

        /// Every request: Gateway API's default match.
        public static let `default` = PathMatch(type: .pathPrefix, value: "/")
    }

    /// The methods Gateway API lets a route match on.
    public enum Method: String, Hashable, Sendable, CaseIterable {
        case get = "GET", head = "HEAD", post = "POST", put = "PUT", delete = "DELETE"
        case connect = "CONNECT", options = "OPTIONS", trace = "TRACE", patch = "PATCH"
    }

    public enum Filter: Hashable, Sendable {
        case requestHeaderModifier(HeaderModifier)
        case responseHeaderModifier(HeaderModifier)
        case requestRedirect(Redirect)
        case urlRewrite(Rewrite)
        case requestMirror(RequestMirror)
        /// `ExtensionRef`: in Ambit, an `HTTPFault` (fault injection) in the route's namespace.
        case extensionRef(ExtensionReference)

        /// The `type:` that spells this filter in a document.
        public var type: String {
            switch self {
            case .requestHeaderModifier: "RequestHeaderModifier"
            case .responseHeaderModifier: "ResponseHeaderModifier"
            case .requestRedirect: "RequestRedirect"
            case .urlRewrite: "URLRewrite"
            case .requestMirror: "RequestMirror"
            case .extensionRef: "ExtensionRef"
            }
        }
    }

    /// How a redirect or rewrite changes the path.
    public enum PathModifier: Hashable, Sendable {
        case replaceFullPath(String)
        /// Replaces the part the rule's one `PathPrefix` match matched.
        case replacePrefixMatch(String)
    }

    /// `RequestRedirect`: answer with a redirect instead of forwarding.
    public struct Redirect: Hashable, Sendable {
        /// `http` or `https`; nil keeps the request's.
        public var scheme: String?
        public var hostname: String?
        public var path: PathModifier?
        public var port: Int?
        /// 301 or 302.
        public var statusCode: Int

        public init(scheme: String? = nil, hostname: String? = nil, path: PathModifier? = nil, port: Int? = nil, statusCode: Int = 302) {
            self.scheme = scheme
            self.hostname = hostname
            self.path = path
            self.port = port
            self.statusCode = statusCode
        }
    }

    /// `URLRewrite`: change the request before forwarding it.
    public struct Rewrite: Hashable, Sendable {
        public var hostname: String?
        public var path: PathModifier?
        public init(hostname: String? = nil, path: PathModifier? = nil) {
            self.hostname = hostname
            self.path = path
        }
    }

    public struct BackendRef: Hashable, Sendable {
        public var backend: BackendReference
        /// Applied only to requests sent to this backend (header modifiers and mirrors).
        public var filters: [Filter]
        public init(backend: BackendReference, filters: [Filter] = []) {
            self.backend = backend
            self.filters = filters
        }
    }

    /// nil: the document did not set it (no timeout). `.zero`: explicitly disabled.
    public struct Timeouts: Hashable, Sendable {
        /// The whole transaction, all retries included.
        public var request: Duration?
        /// Each attempt at a backend; never longer than `request`.
        public var backendRequest: Duration?
        public init(request: Duration? = nil, backendRequest: Duration? = nil) {
            self.request = request
            self.backendRequest = backendRequest
        }
    }

    /// GEP-1731 retries.
    public struct Retry: Hashable, Sendable {
        /// Response codes (400–599) that trigger a retry; connection failures always do.
        public var codes: [Int]
        /// Retries after the first attempt; 0 turns retrying off.
        public var attempts: Int
        /// The base of the jittered exponential backoff.
        public var backoff: Duration

        /// Istio's default number of attempts and Envoy's base backoff.
        public static let defaultAttempts = 2
        public static let defaultBackoff = Duration.milliseconds(25)

        public init(codes: [Int] = [], attempts: Int = Self.defaultAttempts, backoff: Duration = Self.defaultBackoff) {
            self.codes = codes
            self.attempts = attempts
            self.backoff = backoff
        }
    }
}
