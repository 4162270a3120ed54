import NIOHTTP1
import Testing

@testable import AmbitWaypoint

/// The parts of a request the router derives once: host (lower-cased, no port) and
/// whether it is gRPC, both computed without copies in the usual case.
@Suite("Route request")
struct RouteRequestTests {
    typealias R = Routing

    @Test(
        "the host is lower-cased and loses its port",
        arguments: [
            ("cart.shop.svc.cluster.local", "cart.shop.svc.cluster.local"),
            ("Cart.Shop.SVC:8080", "cart.shop.svc"),
            ("10.96.0.50:80", "10.96.0.50"),
            ("[FD00::1]:80", "[fd00::1]"),
            ("ÇART.shop", "çart.shop"),
            ("", ""),
        ])
    func host(sent: String, seen: String) {
        #expect(R.request(host: sent).host == seen)
    }

    @Test(
        "gRPC is told by the content-type's prefix, in any case",
        arguments: [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("Application/GRPC-Web", true),
            ("application/grp", false),
            ("application/json", false),
            ("", false),
        ])
    func grpc(contentType: String, isGRPC: Bool) {
        #expect(R.request(.POST, "/a.B/C", headers: [("content-type", contentType)]).isGRPC == isGRPC)
        #expect(R.request(.POST, "/a.B/C").isGRPC == false)
    }
}
