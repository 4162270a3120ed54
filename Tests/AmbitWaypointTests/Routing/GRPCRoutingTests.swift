import AmbitCore
import Testing

@testable import AmbitWaypoint

/// GRPCRoute matching: `POST /pkg.Service/Method` with content-type application/grpc, by
/// service and method (Exact or RegularExpression) and headers, with GRPCRoute precedence.
@Suite("gRPC routing")
struct GRPCRoutingTests {
    typealias R = Routing

    static func grpcRoute(_ name: String = "g", rules: String) -> String {
        "kind: GRPCRoute\nmetadata: {name: \(name), namespace: shop}\nspec: {parentRefs: [{kind: Service, name: cart}], rules: \(rules)}"
    }

    static let table = Result {
        try R.table(grpcRoute(rules: """
            [{matches: [{method: {service: shop.Cart}}], backendRefs: [{name: v1, port: 8080}]},
             {matches: [{method: {service: shop.Cart, method: Checkout}}], backendRefs: [{name: v2, port: 8080}]},
             {matches: [{method: {type: RegularExpression, service: "shop\\\\.Admin.*", method: "Get.*"}}], backendRefs: [{name: v3, port: 8080}]}]
            """))
    }

    @Test("service and method beat service alone; other methods of the service go to the service rule")
    func precedence() throws {
        let table = try Self.table.get()
        #expect(R.outcome(table, R.grpc("/shop.Cart/Checkout")) == "v2:8080")
        #expect(R.outcome(table, R.grpc("/shop.Cart/AddItem")) == "v1:8080")
    }

    @Test("regular expressions match the whole service and method name")
    func regex() throws {
        let table = try Self.table.get()
        #expect(R.outcome(table, R.grpc("/shop.AdminV2/GetUser")) == "v3:8080")
        #expect(R.outcome(table, R.grpc("/shop.AdminV2/ListUsers")) == "404 NR")
        #expect(R.outcome(table, R.grpc("/x.shop.Admin/GetUser")) == "404 NR")
    }

    @Test("more header matches win between equal method matches; a rule without matches takes every call")
    func headers() throws {
        let table = try R.table(Self.grpcRoute(rules: """
            [{backendRefs: [{name: v1, port: 8080}]},
             {matches: [{method: {service: shop.Cart}, headers: [{name: x-canary, value: "yes"}]}], backendRefs: [{name: v2, port: 8080}]}]
            """))
        #expect(R.outcome(table, R.grpc("/shop.Cart/Add", headers: [("x-canary", "yes")])) == "v2:8080")
        #expect(R.outcome(table, R.grpc("/shop.Cart/Add")) == "v1:8080")
        #expect(R.outcome(table, R.grpc("/other.Svc/Do")) == "v1:8080")
    }

    @Test("a plain HTTP request is not routed by GRPCRoutes; a gRPC call prefers them over HTTPRoutes")
    func kinds() throws {
        let extra = Self.grpcRoute(rules: "[{backendRefs: [{name: v1, port: 8080}]}]") + "\n---\n"
            + R.route(rules: "[{backendRefs: [{name: v2, port: 8080}]}]")
        let table = try R.table(extra)
        #expect(R.outcome(table, R.grpc("/shop.Cart/Add", port: 80)) == "v1:8080")
        #expect(R.outcome(table, R.request(.POST, "/shop.Cart/Add")) == "v2:8080")
        let onlyGRPC = try R.table(Self.grpcRoute(rules: "[{backendRefs: [{name: v1, port: 8080}]}]"))
        #expect(R.outcome(onlyGRPC, R.request(.GET, "/healthz")) == "cart:80 (default)")
    }

    @Test("a gRPC call with only HTTPRoutes is routed by its path")
    func grpcByPath() throws {
        let table = try R.table(R.route(rules: "[{matches: [{path: {value: /shop.Cart}, method: POST}], backendRefs: [{name: v3, port: 8080}]}]"))
        #expect(R.outcome(table, R.grpc("/shop.Cart/Add", port: 80)) == "v3:8080")
    }
}
