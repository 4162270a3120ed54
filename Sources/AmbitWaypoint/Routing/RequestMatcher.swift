import AmbitCore

/// One compiled `matches[]` entry of a route rule, HTTPRoute or GRPCRoute, with the key
/// that orders it against every other match of the routes that apply.
struct RequestMatcher: Sendable {
    private enum Path {
        case exact(String)
        /// Segment-wise prefix, without a trailing `/` (`/` itself becomes empty).
        case prefix(String)
        case regex(StringMatcher)
    }

    private let path: Path?
    private let method: String?
    private let grpcService: StringMatcher?
    private let grpcMethod: StringMatcher?
    private let headers: [HeaderCondition]
    private let queryParams: [HeaderCondition]
    let precedence: Precedence

    init(_ match: HTTPRoute.Match) {
        switch match.path.type {
        case .exact: path = .exact(match.path.value)
        case .pathPrefix: path = .prefix(match.path.value.hasSuffix("/") ? String(match.path.value.dropLast()) : match.path.value)
        case .regularExpression: path = .regex(StringMatcher(.regularExpression, match.path.value))
        }
        method = match.method?.rawValue
        grpcService = nil
        grpcMethod = nil
        headers = match.headers.map(HeaderCondition.init)
        queryParams = match.queryParams.map(HeaderCondition.init)
        precedence = .http(match)
    }

    init(_ match: GRPCRoute.Match) {
        path = nil
        method = nil
        let m = match.method
        grpcService = m?.service.map { StringMatcher(m!.type, $0) }
        grpcMethod = m?.method.map { StringMatcher(m!.type, $0) }
        headers = match.headers.map(HeaderCondition.init)
        queryParams = []
        precedence = .grpc(match)
    }

    func matches(_ request: RouteRequest) -> Bool {
        switch path {
        case .exact(let value)?: guard request.path == value else { return false }
        case .prefix(let prefix)?:
            // `/foo` matches `/foo` and `/foo/bar`, never `/foobar`.
            guard request.path.hasPrefix(prefix) else { return false }
            let rest = request.path.dropFirst(prefix.count)
            guard rest.isEmpty || rest.hasPrefix("/") else { return false }
        case .regex(let matcher)?: guard matcher.matches(request.path) else { return false }
        case nil: break
        }
        if let method, request.method.rawValue != method { return false }
        if grpcService != nil || grpcMethod != nil {
            guard let call = request.grpcMethod else { return false }
            if let grpcService, !grpcService.matches(call.service) { return false }
            if let grpcMethod, !grpcMethod.matches(call.method) { return false }
        }
        for h in headers {
            guard let value = request.headerValue(h.name), h.matcher.matches(value) else { return false }
        }
        for q in queryParams {
            guard let value = request.queryValue(q.name), q.matcher.matches(value) else { return false }
        }
        return true
    }

    /// Gateway API's order between matches of different rules, most specific first; ties
    /// are broken by the route's `namespace/name` and then rule order, outside this key.
    ///
    /// HTTPRoute: an exact path, then the longest path (prefix or regular expression; a
    /// prefix wins a tie: Gateway API leaves regex precedence to implementations, and
    /// ordering by length as Contour does keeps a specific regex ahead of a catch-all `/`),
    /// then a method, then more header matches, then more query matches.
    /// GRPCRoute: the longest exact service, the longest exact method, more header matches.
    struct Precedence: Comparable, Sendable {
        private let key: [Int]

        static func http(_ m: HTTPRoute.Match) -> Precedence {
            let exact = m.path.type == .exact ? 0 : 1
            let regex = m.path.type == .regularExpression ? 1 : 0
            return Precedence(key: [exact, -m.path.value.count, regex, m.method == nil ? 1 : 0, -m.headers.count, -m.queryParams.count])
        }

        static func grpc(_ m: GRPCRoute.Match) -> Precedence {
            let exact = m.method?.type == .exact
            let service = exact ? m.method?.service?.count ?? 0 : 0
            let method = exact ? m.method?.method?.count ?? 0 : 0
            return Precedence(key: [-service, -method, -m.headers.count])
        }

        static func < (a: Precedence, b: Precedence) -> Bool { a.key.lexicographicallyPrecedes(b.key) }
    }
}
