import NIOHTTP1

/// What the waypoint's server span says about a request: its name and attributes.
///
/// Names follow Envoy's server spans, `<authority><path>` (the query left out: it would
/// make every span name unique and can carry secrets). Attributes use OpenTelemetry's HTTP
/// semantic conventions, plus the tags Envoy puts on an Istio waypoint's spans
/// (`upstream_cluster`, `response_flags`, `guid:x-request-id`) so existing trace queries
/// keep working.
struct ServerSpanDetails {
    let method: String
    let path: String
    let authority: String
    let protocolVersion: String
    let userAgent: String?
    let sourcePrincipal: String?

    init(head: HTTPRequestHead, authority: String?, sourcePrincipal: String?) {
        method = head.method.rawValue
        let uri = head.uri
        path = uri.firstIndex(where: { $0 == "?" || $0 == "#" }).map { String(uri[..<$0]) } ?? uri
        self.authority = authority ?? head.headers.first(name: "host") ?? ""
        protocolVersion = head.version.major >= 2 ? "2" : "\(head.version.major).\(head.version.minor)"
        userAgent = head.headers.first(name: "user-agent")
        self.sourcePrincipal = sourcePrincipal
    }

    var spanName: String { authority + path }

    /// `host` and `port` of the authority; IPv6 literals keep their brackets off.
    var serverAddress: (host: String, port: Int64?) {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int64(rest.dropFirst()) : nil)
        }
        if let colon = authority.lastIndex(of: ":"), let port = Int64(authority[authority.index(after: colon)...]) {
            return (String(authority[..<colon]), port)
        }
        return (authority, nil)
    }

    func startAttributes(requestID: String) -> [String: SpanAttributeValue] {
        var attributes: [String: SpanAttributeValue] = [
            "http.request.method": .string(method),
            "url.path": .string(path),
            "network.protocol.name": .string("http"),
            "network.protocol.version": .string(protocolVersion),
            "component": .string("proxy"),
            "guid:x-request-id": .string(requestID),
        ]
        let (host, port) = serverAddress
        if !host.isEmpty { attributes["server.address"] = .string(host) }
        if let port { attributes["server.port"] = .int(port) }
        if let userAgent { attributes["user_agent.original"] = .string(userAgent) }
        if let sourcePrincipal { attributes["source.principal"] = .string(sourcePrincipal) }
        return attributes
    }

    static func endAttributes(
        status: Int?, responseFlags: String, upstreamCluster: String?, route: String?
    ) -> [String: SpanAttributeValue] {
        var attributes: [String: SpanAttributeValue] = ["response_flags": .string(responseFlags)]
        if let status { attributes["http.response.status_code"] = .int(Int64(status)) }
        if let upstreamCluster { attributes["upstream_cluster"] = .string(upstreamCluster) }
        if let route { attributes["http.route"] = .string(route) }
        return attributes
    }

    /// OpenTelemetry marks a server span failed for 5xx only: a 4xx is the client's error,
    /// not the server's. No response at all is a failure too.
    static func errorDescription(status: Int?, responseFlags: String) -> String? {
        guard let status else { return "no response sent (response flags \(responseFlags))" }
        return status >= 500 ? "HTTP \(status)" : nil
    }
}
