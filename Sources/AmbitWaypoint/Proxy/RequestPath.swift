import AmbitCore
import NIOCore
import NIOHTTP1

/// The per-request decisions of the waypoint, in the order Envoy's HTTP filter chain and
/// router make them:
///
///     route → authorize → fault (abort; delay in the handler) → request filters
///       → pick backend → admit (pool limits) → hash key for the balancer
///       → [DownstreamHTTPHandler] fault delay → mirror → attempt: balance, send with
///         x-envoy-attempt-count, per-try/request timer → retry loop with jittered backoff
///       → outlier feedback per attempt → response filters → metrics / access log / trace
///
/// The steps before any I/O are here, as one function returning a plan; the steps that
/// wrap the upstream exchange live in `DownstreamHTTPHandler+Attempts.swift`.
enum RequestPath {
    /// What to do with a request before any upstream I/O.
    enum Plan {
        case respond(LocalReply)
        case forward(Forward)
    }

    /// A request admitted for forwarding. The pool slots it holds are given back through
    /// `release` once, when the request is over.
    struct Forward {
        let backend: Backend
        let destination: DestinationState
        /// The route's ResponseHeaderModifiers, applied to the upstream's answer.
        let responseHeaders: [HeaderModifier]
        /// The matched rule (retry policy, timeouts); nil without routes.
        let rule: RouteRule?
        /// Fault injection's delay, to wait before the first attempt.
        let delay: Duration?
        /// Backends that get a fire-and-forget copy of the request.
        let mirrors: [Backend]
        /// The consistent-hash key's hash, for ring hash / Maglev balancers.
        let hash: UInt64?
        /// A generated hash cookie the response must set.
        let setCookie: String?
        /// `.connection` or `.pendingRequest` for an HTTP/1 upstream (one request per
        /// connection); nil over HTTP/2.
        let poolSlot: CircuitBreaker.Resource?

        func release() {
            destination.breaker.release(.request)
            if let poolSlot { destination.breaker.release(poolSlot) }
        }
    }

    /// Runs on the request's event loop with that loop's state. `destination` is the
    /// service port the request was addressed to (the tunnel's, or the Host's on the plain
    /// listener). `multiplexed`: the upstream exchange is an HTTP/2 stream.
    static func plan(
        head: inout HTTPRequestHead, destination: Backend?, session: DownstreamSession, multiplexed: Bool, loop: WaypointLoop
    ) -> Plan {
        let config = loop.config
        guard let destination, let served = config.served[destination.key.service] else { return .respond(.noRoute) }
        let request = RouteRequest(head: head, port: destination.port.port)

        // 1. Route (Routing/): HTTPRoute / GRPCRoute with Gateway API precedence, weighted
        //    backends; answers redirects, 404 NR and 500 for invalid backends itself.
        let forward: RouteDecision.Forward
        switch served.routes.route(request, random: &loop.random) {
        case .respond(let reply): return .respond(reply)
        case .forward(let f): forward = f
        }

        // 2. Authorize (Policy/): L7 AuthorizationPolicy on the verified client identity;
        //    before faults, so a denied request is never delayed or aborted differently.
        if case .deny = served.authorization.authorize(request, connection: session.connection(port: destination.port.port)) {
            return .respond(.accessDenied)
        }

        // 3. Fault injection (Filters/): an abort answers here; a delay is carried out by
        //    the handler on a timer before the first attempt.
        var delay: Duration?
        if !forward.faults.isEmpty {
            let fault = FaultInjection.decide(forward.faults, grpc: request.isGRPC, random: &loop.random)
            if let abort = fault.abort { return .respond(abort) }
            delay = fault.delay
        }

        // 4. Request filters (Filters/): header modifiers, URL rewrite; mirrors drawn here.
        for modifier in forward.requestHeaderModifiers { modifier.apply(to: &head.headers) }
        if let rewrite = forward.rule?.filters.rewrite {
            let rewritten = URLRewriter.rewrite(rewrite, request, matchedPrefix: forward.rule?.matchedPrefix)
            head.uri = rewritten.uri
            if let host = rewritten.host { head.headers.replaceOrAdd(name: "host", value: host) }
        }
        var mirrors: [Backend] = []
        for mirror in forward.mirrors where mirror.shouldMirror(random: &loop.random) {
            let key = BackendKey(service: "\(mirror.backendRef.namespace)/\(mirror.backendRef.name)", port: mirror.backendRef.port ?? 0)
            if let backend = config.backends[key] { mirrors.append(backend) }
        }

        // 5. Backend: the service and port the route chose (weights already drawn in 1).
        guard let backend = config.backends[BackendKey(service: forward.service.metadata.key, port: forward.port)] else {
            return .respond(.misconfigured("backend \(forward.service.metadata.key) has no port \(forward.port)"))
        }
        let state = loop.destination(backend, plain: session.plain, metrics: session.telemetry.upstream)
        guard !state.endpoints.isEmpty else { return .respond(.noHealthyUpstream(backend)) }

        // 6. Admission (Resilience/ CircuitBreaker): DestinationRule connectionPool limits.
        //    Over a limit the answer is an immediate 503 UO, never a queue: a saturated
        //    backend sheds load. An HTTP/1 upstream uses a connection per request in flight,
        //    so requests beyond `maxConnections` count as pending, up to
        //    `http1MaxPendingRequests`.
        guard state.breaker.tryAcquire(.request) else { return overflow(state) }
        var poolSlot: CircuitBreaker.Resource?
        if !multiplexed {
            if state.breaker.tryAcquire(.connection) {
                poolSlot = .connection
            } else if state.breaker.tryAcquire(.pendingRequest) {
                poolSlot = .pendingRequest
            } else {
                state.breaker.release(.request)
                return overflow(state)
            }
        }

        // 7. The balancer's key (Balancing/ RequestHash), for consistent-hash policies only.
        var hash: UInt64?
        var setCookie: String?
        if let key = state.balancer.hashKey {
            let view = HashView(head: head, sourceIP: session.sourceIP)
            let computed = RequestHash(key, request: view, random: &loop.random)
            hash = computed.value
            setCookie = computed.setCookie
        }
        return .forward(
            Forward(
                backend: backend, destination: state, responseHeaders: forward.responseHeaderModifiers, rule: forward.rule, delay: delay,
                mirrors: mirrors, hash: hash, setCookie: setCookie, poolSlot: poolSlot))
    }

    private static func overflow(_ state: DestinationState) -> Plan {
        state.metrics.overflows.increment()
        return .respond(.overloaded)
    }

    /// 11. Response filters (Filters/): the route's ResponseHeaderModifiers.
    static func filterResponse(_ head: inout HTTPResponseHead, modifiers: [HeaderModifier]) {
        for modifier in modifiers { modifier.apply(to: &head.headers) }
    }
}

/// What consistent hashing reads from a request.
struct HashView: HashableRequestView {
    let head: HTTPRequestHead
    let sourceIP: String?

    func headerValues(named name: String) -> [String] { head.headers[name] }
    var pathAndQuery: String { head.uri }
}

/// Local answers of the I/O layer, in the shape the route table uses for its own
/// (`LocalReply` in Routing/), with Envoy's bodies and flags.
extension LocalReply {
    static func noHealthyUpstream(_ backend: Backend) -> LocalReply {
        LocalReply(status: .serviceUnavailable, body: "no healthy upstream\n", responseFlag: ResponseFlag.noHealthyUpstream)
    }

    static func connectFailure(_ error: any Error) -> LocalReply {
        LocalReply(
            status: .serviceUnavailable, body: "upstream connect error or disconnect/reset before headers. reset reason: connection failure\n",
            responseFlag: ResponseFlag.upstreamConnectionFailure)
    }

    static let resetBeforeHeaders = LocalReply(
        status: .serviceUnavailable, body: "upstream connect error or disconnect/reset before headers. reset reason: connection termination\n",
        responseFlag: ResponseFlag.upstreamConnectionTermination)

    /// A connection-pool limit said no: 503 with `x-envoy-overloaded: true`, flag `UO`.
    static let overloaded = LocalReply(ResilienceReply.overloaded)

    /// `timeouts.request`, or a per-try timeout not retried: 504 `UT`.
    static let upstreamTimeout = LocalReply(ResilienceReply.upstreamTimeout)

    init(_ reply: ResilienceReply) {
        var headers = HTTPHeaders()
        for header in reply.headers { headers.add(name: header.name, value: header.value) }
        self.init(status: HTTPResponseStatus(statusCode: reply.status), headers: headers, body: reply.body + "\n", responseFlag: reply.responseFlag)
    }
}
