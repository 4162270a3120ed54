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

    public init(snapshot: MeshSnapshot, scope: WaypointScope, plainUpstream: SocketAddress? = nil) {
        self.snapshot = snapshot
        self.scope = scope
        var backends: [BackendKey: Backend] = [:]
        var byHost: [String: Backend] = [:]
        let domain = snapshot.mesh.clusterDomain
        for service in snapshot.services
        where service.metadata.namespace == scope.namespace && snapshot.waypointName(for: service) == scope.name {
            let workloads = snapshot.endpoints(of: service).filter { !$0.addresses.isEmpty }
            for port in service.ports {
                let endpoints = workloads.compactMap { w -> UpstreamEndpoint? in
                    guard let address = try? SocketAddress(ipAddress: w.addresses[0].description, port: port.targetPort) else { return nil }
                    return UpstreamEndpoint(address: address, identity: snapshot.isEnrolled(w) ? snapshot.identity(of: w) : nil, workload: w)
                }
                let plain = plainUpstream.map { [UpstreamEndpoint(address: $0, identity: nil, workload: nil)] }
                let backend = Backend(service: service, port: port, endpoints: endpoints, plainEndpoints: plain ?? endpoints, clusterDomain: domain)
                backends[BackendKey(service: service.metadata.key, port: port.port)] = backend
                let fqdn = service.hostname(clusterDomain: domain)
                var hosts = [fqdn, service.metadata.name, "\(service.metadata.name).\(service.metadata.namespace)"]
                hosts += service.addresses.map(\.description)
                for host in hosts {
                    byHost["\(host):\(port.port)"] = backend
                    if port.port == 80 || byHost[host] == nil { byHost[host] = backend }
                }
            }
        }
        self.backends = backends
        self.backendsByHost = byHost
        self.soleBackend = backends.count == 1 ? backends.values.first : nil
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
