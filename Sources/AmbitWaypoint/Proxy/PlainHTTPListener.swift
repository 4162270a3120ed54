import AmbitCore
import NIOCore
import NIOPosix

/// The benchmark/debug listener: plain HTTP/1.1 in, plain HTTP out, through the same
/// request path as tunnelled traffic. It exists so the waypoint's L7 engine can be measured
/// like-for-like against Envoy and HAProxy doing the same job; it has no mTLS and no
/// identity, so never expose it beyond the host. The backend is named by the Host header
/// (service name, FQDN or VIP), or is the one service the waypoint serves.
enum PlainHTTPListener {
    static func bind(_ address: HostPort, group: any EventLoopGroup, loops: WaypointLoops, telemetry: WaypointTelemetry) async throws
        -> Channel
    {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let source = SourcePeer(
                        principal: nil, workload: nil, address: channel.remoteAddress.flatMap { a in a.ipAddress.map { "\($0):\(a.port ?? 0)" } },
                        securityPolicy: "none")
                    let session = DownstreamSession(
                        source: source, destination: nil, loop: loops.state(for: channel.eventLoop), telemetry: telemetry, plain: true)
                    try DownstreamPipeline.installHTTP1(session: session, on: channel)
                }
            }
            .bind(to: try SocketAddress.makeAddressResolvingHost(address.host, port: address.port))
            .get()
    }
}
