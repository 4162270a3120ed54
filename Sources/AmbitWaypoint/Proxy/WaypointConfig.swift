import AmbitCore
import NIOCore

/// What the request path needs from one snapshot, indexed once per config change instead
/// of per request: the backends this waypoint serves with their endpoints.
///
/// Immutable and shared by all event loops; a reload builds a new one and each loop swaps
/// its reference (`WaypointLoop.config`), so requests in flight finish on the old one.
public final class WaypointConfig: Sendable {
    public let snapshot: MeshSnapshot
    public let scope: WaypointScope
    /// Served (service, port) pairs.
    let backends: [BackendKey: Backend]
    /// The benchmark listener's way in: a Host header (name, FQDN, VIP, with or without
    /// port) to the backend it names.
    let backendsByHost: [String: Backend]
    /// The one served backend, when there is exactly one (the benchmark listener's default).
    let soleBackend: Backend?

    /// Routes and L7 policy of each served service, by `namespace/name`.
    let served: [String: ServedService]

    public init(snapshot: MeshSnapshot, scope: WaypointScope, plainUpstream: SocketAddress? = nil) {
        self.snapshot = snapshot
        self.scope = scope
        var backends: [BackendKey: Backend] = [:]
        var byHost: [String: Backend] = [:]
        var served: [String: ServedService] = [:]
        let domain = snapshot.mesh.clusterDomain
        let gateway = snapshot.gateway(namespace: scope.namespace, name: scope.name)
        let plain = plainUpstream.map { [UpstreamEndpoint(address: $0, identity: nil, workload: nil)] }
        // Every service gets a backend, not only the served ones: a route's backendRefs may
        // send a served service's traffic to another (canary v2, a mirror).
        for service in snapshot.services {
            let isServed = service.metadata.namespace == scope.namespace && snapshot.waypointName(for: service) == scope.name
            let workloads = snapshot.endpoints(of: service).filter { !$0.addresses.isEmpty }
            for port in service.ports {
                let endpoints = workloads.compactMap { w -> UpstreamEndpoint? in
                    guard let address = try? SocketAddress(ipAddress: w.addresses[0].description, port: port.targetPort) else { return nil }
                    return UpstreamEndpoint(address: address, identity: snapshot.isEnrolled(w) ? snapshot.identity(of: w) : nil, workload: w)
                }
                let backend = Backend(
                    service: service, port: port, endpoints: endpoints, plainEndpoints: (isServed ? plain : nil) ?? endpoints,
                    clusterDomain: domain)
                backends[backend.key] = backend
                guard isServed else { continue }
                let fqdn = service.hostname(clusterDomain: domain)
                var hosts = [fqdn, service.metadata.name, "\(service.metadata.name).\(service.metadata.namespace)"]
                hosts += service.addresses.map(\.description)
                for host in hosts {
                    byHost["\(host):\(port.port)"] = backend
                    if port.port == 80 || byHost[host] == nil { byHost[host] = backend }
                }
            }
            if isServed {
                served[service.metadata.key] = ServedService(
                    routes: RouteTable(service: service, waypoint: gateway, snapshot: snapshot),
                    authorization: gateway.map { WaypointAuthorization(waypoint: $0, service: service, snapshot: snapshot) }
                        ?? WaypointAuthorization(policies: []))
            }
        }
        self.backends = backends
        self.backendsByHost = byHost
        self.served = served
        let servedBackends = backends.values.filter { served[$0.key.service] != nil }
        self.soleBackend = servedBackends.count == 1 ? servedBackends.first : nil
    }

    func backend(for destination: WaypointScope.Destination) -> Backend? {
        backends[BackendKey(service: destination.service.metadata.key, port: destination.port.port)]
    }

    /// The backend a plain-listener request names by its Host header.
    func backend(forHost host: String?) -> Backend? {
        if let host, let hit = backendsByHost[host] ?? backendsByHost[host.lowercased()] { return hit }
        return soleBackend
    }
}

/// What the request path consults for a served service, compiled once per config.
struct ServedService: Sendable {
    let routes: RouteTable
    let authorization: WaypointAuthorization
}

struct BackendKey: Hashable, Sendable {
    let service: String
    let port: Int
}

/// One served service port and where it lives.
final class Backend: Sendable {
    let service: Service
    let port: ServicePort
    /// Endpoints as the mesh path dials them (HBONE to mesh workloads).
    let endpoints: [UpstreamEndpoint]
    /// Endpoints as the plain benchmark listener dials them: `--plain-upstream` when given,
    /// else the same workloads over plain TCP.
    let plainEndpoints: [UpstreamEndpoint]
    /// Label values built once: `destination_service` (FQDN), name, namespace.
    let hostname: String
    let key: BackendKey

    init(service: Service, port: ServicePort, endpoints: [UpstreamEndpoint], plainEndpoints: [UpstreamEndpoint], clusterDomain: String) {
        self.service = service
        self.port = port
        self.endpoints = endpoints
        self.plainEndpoints = plainEndpoints.map { UpstreamEndpoint(address: $0.address, identity: nil, workload: nil, copying: $0) }
        self.hostname = service.hostname(clusterDomain: clusterDomain)
        self.key = BackendKey(service: service.metadata.key, port: port.port)
    }
}

extension UpstreamEndpoint {
    /// The same endpoint without its identity: dialled over plain TCP.
    init(address: SocketAddress, identity: SpiffeID?, workload: Workload?, copying other: UpstreamEndpoint) {
        self.address = address
        self.identity = identity
        self.workload = other.workload
        self.workloadName = other.workloadName
        self.workloadNamespace = other.workloadNamespace
        self.hostText = other.hostText
    }
}
