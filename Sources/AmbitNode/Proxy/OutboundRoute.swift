import AmbitCore
import NIOConcurrencyHelpers

/// Where an outbound connection goes: the pure decision of the 15001 path.
///
/// - a mesh workload's address → HBONE to that workload, expecting its identity;
/// - a service VIP → one of its endpoints, round robin (HBONE when the endpoint is in the
///   mesh, plain TCP when it is not), or the service's waypoint when it has one;
/// - a known service with no endpoint, or whose waypoint is missing → refused, with the
///   reason (traffic meant for a waypoint never skips it);
/// - anything else → passthrough, untouched.
public enum OutboundRoute: Equatable, Sendable {
    case tunnel(Tunnel)
    case passthrough(ip: IPAddress, port: Int)
    case refuse(reason: String)

    public struct Tunnel: Equatable, Sendable {
        /// Where the HBONE connection goes (the destination's or the waypoint's address).
        public let address: IPAddress
        /// `:authority`: the endpoint's ip:port, or the service VIP:port for a waypoint.
        public let authority: HostPort
        public let expected: SpiffeID
        /// Names for logs and metrics.
        public let destinationWorkload: Workload?
        public let service: Service?
        public let viaWaypoint: Bool
    }

    public static let hbonePort = 15008

    public static func decide(
        ip: IPAddress, port: Int, snapshot: MeshSnapshot, pick: (String, Int) -> Int
    ) -> OutboundRoute {
        if let workload = snapshot.workload(at: ip) {
            return toWorkload(workload, ip: ip, port: port, service: nil, snapshot: snapshot)
        }
        guard let service = snapshot.service(at: ip) else { return .passthrough(ip: ip, port: port) }
        guard let servicePort = service.ports.first(where: { $0.port == port }) else {
            return .refuse(reason: "service \(service.metadata.key) has no port \(port)")
        }
        if let waypointName = snapshot.waypointName(for: service) {
            guard let waypoint = snapshot.workloads.first(where: {
                $0.metadata.namespace == service.metadata.namespace && $0.metadata.labels[waypointLabel] == waypointName
            }), let address = waypoint.addresses.first, let identity = snapshot.identity(of: waypoint) else {
                return .refuse(reason: "service \(service.metadata.key) uses waypoint \(waypointName), which has no running workload")
            }
            return .tunnel(
                Tunnel(
                    address: address, authority: HostPort(host: ip.description, port: port), expected: identity,
                    destinationWorkload: waypoint, service: service, viaWaypoint: true))
        }
        let endpoints = snapshot.endpoints(of: service).filter { !$0.addresses.isEmpty }
        guard !endpoints.isEmpty else {
            return .refuse(reason: "service \(service.metadata.key) has no endpoints")
        }
        let chosen = endpoints[pick(service.metadata.key, endpoints.count) % endpoints.count]
        return toWorkload(chosen, ip: chosen.addresses[0], port: servicePort.targetPort, service: service, snapshot: snapshot)
    }

    /// Istio labels waypoint pods with the Gateway they serve.
    public static let waypointLabel = MeshLabels.gatewayName

    private static func toWorkload(_ w: Workload, ip: IPAddress, port: Int, service: Service?, snapshot: MeshSnapshot) -> OutboundRoute {
        guard snapshot.isEnrolled(w), let identity = snapshot.identity(of: w) else { return .passthrough(ip: ip, port: port) }
        return .tunnel(
            Tunnel(
                address: ip, authority: HostPort(host: ip.description, port: port), expected: identity,
                destinationWorkload: w, service: service, viaWaypoint: false))
    }
}

/// Round-robin counters per service, shared by all pods on the node.
final class RoundRobin: Sendable {
    private let counters = NIOLockedValueBox<[String: Int]>([:])

    func next(_ key: String, _ count: Int) -> Int {
        counters.withLockedValue { c in
            let n = c[key, default: 0]
            c[key] = (n + 1) % max(count, 1)
            return n
        }
    }
}
