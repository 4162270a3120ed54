import AmbitCore
import AmbitTunnel
import NIOCore
import NIOPosix

/// One endpoint of a backend service, as the waypoint dials it.
public struct UpstreamEndpoint: Sendable, Hashable {
    /// The workload's address and the service's target port: what its application listens on.
    public let address: SocketAddress
    /// The workload's identity when it is in the mesh (the waypoint then tunnels to it over
    /// HBONE and checks this identity); nil sends plain TCP, as Istio does for endpoints
    /// outside the mesh.
    public let identity: SpiffeID?
    /// `namespace/name` of the workload, for logs and metrics.
    public let workload: String?
    public let workloadName: String?
    public let workloadNamespace: String?
    /// `ip:port`, built once: the access log's upstream_host.
    public let hostText: String

    public init(address: SocketAddress, identity: SpiffeID?, workload: Workload?) {
        self.address = address
        self.identity = identity
        self.workload = workload?.metadata.key
        self.workloadName = workload?.metadata.name
        self.workloadNamespace = workload?.metadata.namespace
        self.hostText = address.ipAddress.map { "\($0):\(address.port ?? 0)" } ?? "\(address)"
    }
}

/// Opens a byte channel to an endpoint: an HBONE CONNECT stream terminated in this process,
/// or a TCP socket. What flows over it (HTTP/1, HTTP/2, raw bytes) is the caller's business:
/// `initialize` adds those handlers, on the channel's event loop, before any byte is read.
public protocol UpstreamConnector: Sendable {
    func connect(
        to endpoint: UpstreamEndpoint, on loop: any EventLoop, initialize: @escaping (Channel) throws -> Void
    ) -> EventLoopFuture<Channel>
}

/// Plain TCP: endpoints outside the mesh, and the benchmark listener's upstreams.
public struct PlainConnector: UpstreamConnector {
    public var connectTimeout: TimeAmount

    public init(connectTimeout: TimeAmount = .seconds(5)) {
        self.connectTimeout = connectTimeout
    }

    public func connect(
        to endpoint: UpstreamEndpoint, on loop: any EventLoop, initialize: @escaping (Channel) throws -> Void
    ) -> EventLoopFuture<Channel> {
        ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .connect(to: endpoint.address)
            .assumeIsolated()
            .flatMapThrowing { channel in
                // The server speaks only when asked, so nothing is read before the handlers
                // are in place.
                try initialize(channel)
                channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
                return channel
            }.nonisolated()
    }
}

/// HBONE to mesh endpoints: CONNECT to `ip:15008` with `:authority` = `ip:targetPort`,
/// presenting the waypoint's identity and requiring the endpoint's; plain TCP to endpoints
/// outside the mesh.
public struct HBONEConnector: UpstreamConnector {
    public let client: HBONEClient
    public let source: SpiffeID
    public let plain: PlainConnector
    /// The endpoints' HBONE port: 15008 in a mesh; tests on loopback move it.
    public let hbonePort: Int

    public init(client: HBONEClient, source: SpiffeID, hbonePort: Int = 15008, plain: PlainConnector = PlainConnector()) {
        self.client = client
        self.source = source
        self.hbonePort = hbonePort
        self.plain = plain
    }

    public func connect(
        to endpoint: UpstreamEndpoint, on loop: any EventLoop, initialize: @escaping (Channel) throws -> Void
    ) -> EventLoopFuture<Channel> {
        guard let identity = endpoint.identity, let ip = endpoint.address.ipAddress, let port = endpoint.address.port else {
            return plain.connect(to: endpoint, on: loop, initialize: initialize)
        }
        let tunnel: SocketAddress
        do { tunnel = try SocketAddress(ipAddress: ip, port: hbonePort) } catch { return loop.makeFailedFuture(error) }
        let head = ConnectHead(authority: HostPort(host: ip, port: port))
        return client.open(from: source, to: tunnel, expecting: [identity], head: head, on: loop)
            .hop(to: loop)
            .assumeIsolated()
            .flatMapThrowing { stream in
                try stream.terminate(initialize)
                return stream.channel
            }.nonisolated()
    }
}
