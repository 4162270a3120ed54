import AmbitCore
import NIOCore
import NIOHTTP1

/// The per-request decisions of the waypoint, in the order Envoy's HTTP filter chain and
/// router make them. Each numbered step is where one pure component plugs in; a step whose
/// component has not been wired yet says `PLACEHOLDER(<folder>)`.
///
///     route → authorize → fault → request filters → pick backend → admit → balance
///       → [DownstreamHTTPHandler] attempt with timeout → retry loop → outlier feedback
///       → response filters → metrics / access log / trace
///
/// The steps before any I/O are here, as one function returning a plan; the steps that
/// wrap the upstream exchange are hooks the handler calls (`attemptFinished`,
/// `filterResponse`).
enum RequestPath {
    /// What to do with a request before any upstream I/O.
    enum Plan {
        case respond(LocalReply)
        /// `responseHeaders`: the route's ResponseHeaderModifiers, applied to the upstream's answer.
        case forward(Backend, UpstreamEndpoint, responseHeaders: [HeaderModifier])
    }

    /// Runs on the request's event loop with that loop's state. `destination` is the
    /// service port the request was addressed to (the tunnel's, or the Host's on the plain
    /// listener).
    static func plan(head: inout HTTPRequestHead, destination: Backend?, session: DownstreamSession, loop: WaypointLoop) -> Plan {
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

        // 3. Fault injection (Filters/): abort answers here. PLACEHOLDER(Filters/ delay):
        //    a delay needs a timer in the handler before the upstream is acquired.
        if !forward.faults.isEmpty {
            let fault = FaultInjection.decide(forward.faults, grpc: request.isGRPC, random: &loop.random)
            if let abort = fault.abort { return .respond(abort) }
        }

        // 4. Request filters (Filters/): header modifiers, URL rewrite. PLACEHOLDER(Filters/
        //    mirror): mirrors need a fire-and-forget second exchange.
        for modifier in forward.requestHeaderModifiers { modifier.apply(to: &head.headers) }
        if let rewrite = forward.rule?.filters.rewrite {
            let rewritten = URLRewriter.rewrite(rewrite, request, matchedPrefix: forward.rule?.matchedPrefix)
            head.uri = rewritten.uri
            if let host = rewritten.host { head.headers.replaceOrAdd(name: "host", value: host) }
        }

        // 5. Backend: the service and port the route chose (weights already drawn in 1).
        guard let backend = config.backends[BackendKey(service: forward.service.metadata.key, port: forward.port)] else {
            return .respond(.misconfigured("backend \(forward.service.metadata.key) has no port \(forward.port)"))
        }

        // 6. Admission. PLACEHOLDER(Resilience/ CircuitBreaker): always admitted; overflow
        //    answers 503 UO with x-envoy-overloaded.

        // 7. Balance. PLACEHOLDER(Balancing/ EndpointBalancer + outlier ejection): round
        //    robin over the backend's endpoints.
        let endpoints = session.plain ? backend.plainEndpoints : backend.endpoints
        guard !endpoints.isEmpty else { return .respond(.noHealthyUpstream(backend)) }
        let endpoint = endpoints[loop.nextIndex(backend.key, count: endpoints.count)]
        return .forward(backend, endpoint, responseHeaders: forward.responseHeaderModifiers)
    }

    /// 8–10. After one attempt. PLACEHOLDER(Resilience/ RetryState, RequestDeadlines,
    /// OutlierDetector): one attempt, no per-try timeout, no retry, no outlier feedback.
    /// The retry loop re-enters `plan` at step 7 with the buffered request; outlier
    /// detection counts `status` per endpoint.
    static func attemptFinished(endpoint: UpstreamEndpoint, status: Int, loop: WaypointLoop) {}

    /// 11. Response filters (Filters/): the route's ResponseHeaderModifiers.
    static func filterResponse(_ head: inout HTTPResponseHead, modifiers: [HeaderModifier]) {
        for modifier in modifiers { modifier.apply(to: &head.headers) }
    }
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
}
