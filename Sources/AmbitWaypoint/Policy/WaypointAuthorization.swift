import AmbitCore
import NIOHTTP1

/// L7 authorization at the waypoint: the AuthorizationPolicies that target this waypoint
/// Gateway or the destination Service (`targetRefs`, Istio ambient's attachment), decided
/// per request by AmbitCore's evaluator, the same code that decides at L4 on the node.
///
/// Built once per config change for one service; `authorize` is pure.
public struct WaypointAuthorization: Sendable {
    public let policies: [AuthorizationPolicy]

    public init(waypoint: Gateway, service: Service, snapshot: MeshSnapshot) {
        policies = snapshot.authorizationPolicies(atWaypoint: waypoint, for: service)
    }

    public init(policies: [AuthorizationPolicy]) { self.policies = policies }

    /// `connection` is what the inbound HBONE tunnel established: the client's verified
    /// SPIFFE identity, its address and the destination port.
    public func authorize(_ request: RouteRequest, connection: AuthorizationEvaluator.Connection) -> AuthorizationEvaluator.Decision {
        // Without policies there is nothing to check: skip building the request view.
        guard !policies.isEmpty else { return .allow }
        let view = AuthorizationEvaluator.Request(
            connection: connection, method: request.method.rawValue, path: request.uri,
            host: request.headers.first(name: "host") ?? "", headers: request.headers.map { HTTPHeader(name: $0.name, value: $0.value) })
        return AuthorizationEvaluator.evaluate(policies, view)
    }
}

extension LocalReply {
    /// Envoy's RBAC denial, byte for byte what Istio users see: 403 `RBAC: access denied`.
    public static let accessDenied = LocalReply(
        status: .forbidden, headers: ["content-type": "text/plain"], body: "RBAC: access denied", responseFlag: "RBAC")
}
