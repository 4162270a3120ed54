import AmbitCore
import AmbitWaypoint
import NIOHTTP1
import Testing

/// A namespace `shop` whose services go through the `waypoint` Gateway, and the helpers
/// the routing tests share: build a table from extra YAML, make a request, read a decision.
enum Routing {
    static let base = """
        kind: Namespace
        metadata: {name: shop, labels: {ambit.dev/use-waypoint: waypoint}}
        ---
        kind: Gateway
        metadata: {name: waypoint, namespace: shop}
        spec: {gatewayClassName: ambit-waypoint}
        ---
        kind: Service
        metadata: {name: cart, namespace: shop}
        spec: {ports: [{name: http, port: 80}, {name: grpc, port: 9090}]}
        ---
        kind: Service
        metadata: {name: db, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        kind: Service
        metadata: {name: v1, namespace: shop}
        spec: {ports: [{port: 8080}]}
        ---
        kind: Service
        metadata: {name: v2, namespace: shop}
        spec: {ports: [{port: 8080}]}
        ---
        kind: Service
        metadata: {name: v3, namespace: shop}
        spec: {ports: [{port: 8080}]}
        """

    static func snapshot(_ extra: String) throws -> MeshSnapshot {
        try MeshSnapshot(ResourceDecoder.decodeFile(base + (extra.isEmpty ? "" : "\n---\n" + extra), file: "routes.yaml"))
    }

    /// The route table of `service` (default `cart`) with `extra` documents applied.
    static func table(_ extra: String, service: String = "cart") throws -> RouteTable {
        let s = try snapshot(extra)
        let svc = try #require(s.service(namespace: "shop", name: service))
        return RouteTable(service: svc, waypoint: s.waypoint(for: svc), snapshot: s)
    }

    /// An HTTPRoute on the `cart` Service named `name`, with `rules` in flow style.
    static func route(_ name: String = "r", parents: String = "[{kind: Service, name: cart}]", hostnames: String = "[]", rules: String) -> String {
        "kind: HTTPRoute\nmetadata: {name: \(name), namespace: shop}\nspec: {parentRefs: \(parents), hostnames: \(hostnames), rules: \(rules)}"
    }

    static func request(
        _ method: HTTPMethod = .GET, _ uri: String = "/", host: String = "cart.shop.svc.cluster.local", port: Int = 80,
        headers: [(String, String)] = []
    ) -> RouteRequest {
        var h = HTTPHeaders(headers)
        h.add(name: "host", value: host)
        return RouteRequest(method: method, uri: uri, headers: h, port: port)
    }

    static func grpc(_ path: String, port: Int = 9090, headers: [(String, String)] = []) -> RouteRequest {
        request(.POST, path, port: port, headers: [("content-type", "application/grpc")] + headers)
    }

    /// What a decision amounts to, in one word: `v1:8080` (backend), `cart:80 (default)`,
    /// or the status and flag of a local reply (`404 NR`, `500`, `302`).
    static func outcome(_ decision: RouteDecision) -> String {
        switch decision {
        case .forward(let f):
            return "\(f.service.metadata.name):\(f.port)" + (f.rule == nil ? " (default)" : "")
        case .respond(let reply):
            return "\(reply.status.code)" + (reply.responseFlag.map { " \($0)" } ?? "")
        }
    }

    static func outcome(_ table: RouteTable, _ request: RouteRequest, seed: UInt64 = 1) -> String {
        var random = FastRandom(seed: seed)
        return outcome(table.route(request, random: &random))
    }
}
