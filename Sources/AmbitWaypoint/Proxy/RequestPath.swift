import AmbitCore
import NIOCore
import NIOHTTP1

/// The per-request decisions of the waypoint, in the order Envoy's HTTP filter chain and
/// router make them. Each numbered step is the seam where one pure component plugs in;
/// until that component lands, the step holds the simplest correct placeholder, marked
/// `PLACEHOLDER(<folder>)`.
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
        case forward(Backend, UpstreamEndpoint)
    }

    /// Runs on the request's event loop with that loop's state.
    static func plan(head: inout HTTPRequestHead, destination: Backend?, source: SourcePeer, loop: WaypointLoop, plain: Bool) -> Plan {
        // 1. Route. PLACEHOLDER(Routing/): the tunnel's own destination service; HTTPRoute /
        //    GRPCRoute matching with Gateway API precedence replaces this and may answer 404 NR.
        guard let backend = destination else { return .respond(.noRoute) }

        // 2. Authorize. PLACEHOLDER(Policy/): allow. L4 policy already ran at the node; L7
        //    AuthorizationPolicy (methods, paths, hosts, headers, principals) answers 403 here.

        // 3. Fault injection. PLACEHOLDER(Filters/): none. Delay/abort by percentage go
        //    here, after authorization (a denied request is never delayed).

        // 4. Request filters. PLACEHOLDER(Filters/): none. Header modifiers, redirect
        //    (answers locally), URL rewrite, mirror.

        // 5. Backend choice. PLACEHOLDER(Routing/ weighted backends): the route's single
        //    backend.

        // 6. Admission. PLACEHOLDER(Resilience/ pool limits): always admitted; overflow
        //    answers 503 UO with x-envoy-overloaded.

        // 7. Balance. PLACEHOLDER(Balancing/): round robin over all endpoints; outlier
        //    ejection filters the list first once Resilience/ lands.
        let endpoints = plain ? backend.plainEndpoints : backend.endpoints
        guard !endpoints.isEmpty else { return .respond(.noHealthyUpstream(backend)) }
        let endpoint = endpoints[loop.nextIndex(backend.key, count: endpoints.count)]
        return .forward(backend, endpoint)
    }

    /// 8–10. After one attempt: PLACEHOLDER(Resilience/): one attempt, no per-try timeout,
    /// no retry, no outlier feedback. The retry loop re-enters `plan` from step 7 with the
    /// buffered request; outlier detection counts `status` per endpoint.
    static func attemptFinished(endpoint: UpstreamEndpoint, status: Int, loop: WaypointLoop) {}

    /// 11. Response filters. PLACEHOLDER(Filters/ ResponseHeaderModifier): none.
    static func filterResponse(_ head: inout HTTPResponseHead) {}
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
