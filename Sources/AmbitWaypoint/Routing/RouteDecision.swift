import AmbitCore
import NIOHTTP1

/// What the router decided for one request: forward it to a backend service, or answer it
/// at the waypoint (a redirect, no route, a backend that cannot be used).
public enum RouteDecision: Sendable {
    case forward(Forward)
    case respond(LocalReply)

    /// Send the request to `port` of `service`, after the rule's and the backend's filters.
    public struct Forward: Sendable {
        /// The rule that matched; nil when no route applies and the request goes to the
        /// service it was addressed to (what an Istio waypoint does without routes).
        public let rule: RouteRule?
        public let service: Service
        public let port: Int
        /// Filters of the chosen `backendRefs[]` entry, applied after the rule's.
        public let backendFilters: RouteFilters

        /// Request header edits in the order to apply them: the rule's, then the backend's.
        public var requestHeaderModifiers: [HeaderModifier] {
            [rule?.filters.requestHeaders, backendFilters.requestHeaders].compactMap { $0 }
        }

        /// Response header edits in the order to apply them.
        public var responseHeaderModifiers: [HeaderModifier] {
            [rule?.filters.responseHeaders, backendFilters.responseHeaders].compactMap { $0 }
        }

        public var mirrors: [RequestMirror] { (rule?.filters.mirrors ?? []) + backendFilters.mirrors }
        public var faults: [HTTPFault] { (rule?.filters.faults ?? []) + backendFilters.faults }
    }
}

/// The parts of a matched rule the proxy acts on, whichever route kind it came from.
public struct RouteRule: Sendable {
    /// `HTTPRoute` or `GRPCRoute`.
    public let routeKind: String
    /// `namespace/name` of the route.
    public let routeKey: String
    public let ruleIndex: Int
    public let ruleName: String?
    public let filters: RouteFilters
    /// Never set for a GRPCRoute, which has neither.
    public let timeouts: HTTPRoute.Timeouts
    public let retry: HTTPRoute.Retry?
    /// The `PathPrefix` value a `ReplacePrefixMatch` rewrite or redirect replaces (the
    /// decoder guarantees such a rule has exactly that one match).
    public let matchedPrefix: String?
    /// `retry` prepared once per config (a set of codes), so a request only reads it.
    public let retryPolicy: RetryPolicy?
    /// Whether either timeout is set (and not `0s`): requests of other rules arm no timer.
    public let hasTimeouts: Bool

    public init(
        routeKind: String, routeKey: String, ruleIndex: Int, ruleName: String?, filters: RouteFilters, timeouts: HTTPRoute.Timeouts,
        retry: HTTPRoute.Retry?, matchedPrefix: String?
    ) {
        self.routeKind = routeKind
        self.routeKey = routeKey
        self.ruleIndex = ruleIndex
        self.ruleName = ruleName
        self.filters = filters
        self.timeouts = timeouts
        self.retry = retry
        self.matchedPrefix = matchedPrefix
        retryPolicy = RetryPolicy(route: retry)
        hasTimeouts = (timeouts.request ?? .zero) > .zero || (timeouts.backendRequest ?? .zero) > .zero
    }

    /// `HTTPRoute shop/cart rule 1`: how logs and errors name it.
    public var description: String { "\(routeKind) \(routeKey) rule \(ruleName ?? String(ruleIndex))" }
}

/// The filters of a rule or a backend, sorted by what they do. Gateway API allows each
/// kind (but mirrors and extensions) once per list, so one optional each is enough.
public struct RouteFilters: Sendable {
    public var requestHeaders: HeaderModifier?
    public var responseHeaders: HeaderModifier?
    public var redirect: HTTPRoute.Redirect?
    public var rewrite: HTTPRoute.Rewrite?
    public var mirrors: [RequestMirror] = []
    public var faults: [HTTPFault] = []
    /// Extension filters that resolve to nothing: Gateway API forbids skipping them, so
    /// the requests they would see get 500.
    public var unresolved: [ExtensionReference] = []

    public static let none = RouteFilters()

    init() {}

    /// `namespace` is the route's: an ExtensionRef names an object in it.
    init(_ filters: [HTTPRoute.Filter], namespace: String, in snapshot: MeshSnapshot) {
        for filter in filters {
            switch filter {
            case .requestHeaderModifier(let m): requestHeaders = m
            case .responseHeaderModifier(let m): responseHeaders = m
            case .requestRedirect(let r): redirect = r
            case .urlRewrite(let r): rewrite = r
            case .requestMirror(let m): mirrors.append(m)
            case .extensionRef(let ref):
                if let fault = snapshot.httpFault(ref, namespace: namespace) { faults.append(fault) } else { unresolved.append(ref) }
            }
        }
    }

    init(_ filters: [GRPCRoute.Filter]) {
        for filter in filters {
            switch filter {
            case .requestHeaderModifier(let m): requestHeaders = m
            case .responseHeaderModifier(let m): responseHeaders = m
            case .requestMirror(let m): mirrors.append(m)
            }
        }
    }
}

/// A response the waypoint sends itself instead of forwarding: status, headers, body and
/// Envoy's response flag for the access log and the `response_flags` metric label.
public struct LocalReply: Sendable, Equatable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: String
    /// `NR`, `FI`, `RBAC`…; nil when Envoy would log `-`.
    public var responseFlag: String?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: String = "", responseFlag: String? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.responseFlag = responseFlag
    }

    /// No route matched: Envoy's 404 with flag `NR`.
    public static let noRoute = LocalReply(status: .notFound, responseFlag: "NR")

    /// Gateway API: a request for an invalid backend (or through an unresolved filter)
    /// gets 500. The body says why, for whoever reads it with curl.
    public static func misconfigured(_ reason: String) -> LocalReply {
        LocalReply(status: .internalServerError, headers: ["content-type": "text/plain"], body: reason)
    }
}
