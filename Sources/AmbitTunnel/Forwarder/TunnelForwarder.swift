import AmbitCore
import Logging
import NIOCore
import NIOPosix

/// A plain TCP listener whose every connection is carried through HBONE to one target.
///
/// This is the node's outbound path without the capture: the node daemon accepts a
/// redirected connection and learns the target from SO_ORIGINAL_DST; here the target is
/// configured. The demo, the benchmark and the tunnel tests use it as the "client app side".
public final class TunnelForwarder: Sendable {
    public struct Configuration: Sendable {
        public var listen: SocketAddress
        /// The identity the tunnel proves (the source workload's).
        public var source: SpiffeID
        /// The HBONE server to tunnel through.
        public var server: SocketAddress
        /// The identities the HBONE server may prove.
        public var serverIdentities: Set<SpiffeID>
        /// What the CONNECT asks for (`:authority`).
        public var target: HostPort

        public init(listen: SocketAddress, source: SpiffeID, server: SocketAddress, serverIdentities: Set<SpiffeID>, target: HostPort) {
            self.listen = listen
            self.source = source
            self.server = server
            self.serverIdentities = serverIdentities
            self.target = target
        }
    }

    private let channel: Channel
    public let configuration: Configuration

    private init(channel: Channel, configuration: Configuration) {
        self.channel = channel
        self.configuration = configuration
        self.localAddress = channel.localAddress!
    }

    /// The address actually bound (useful with port 0); kept after close.
    public let localAddress: SocketAddress

    public static func bind(
        _ configuration: Configuration, group: any EventLoopGroup, client: HBONEClient,
        logger: Logger = Logger(label: "ambit.forwarder"),
        onClose: (@Sendable (TunnelStats) -> Void)? = nil
    ) async throws -> TunnelForwarder {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            // Nothing is read before the tunnel exists; the glue turns reading on.
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { inbound in
                inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandlers([
                        InputHoldHandler(),
                        StartWhenActive { inbound in
                            let head = ConnectHead(
                                authority: configuration.target, sourceAddress: inbound.remoteAddress?.hostPortText)
                            client.open(
                                from: configuration.source, to: configuration.server,
                                expecting: configuration.serverIdentities, head: head, on: inbound.eventLoop
                            ).whenComplete { result in
                                switch result {
                                case .success(let stream):
                                    stream.glue(to: inbound).whenComplete { result in
                                        if case .success(let stats) = result { onClose?(stats) }
                                    }
                                case .failure(let error):
                                    logger.warning(
                                        "tunnel not established; closing the client connection", metadata: ["error": "\(error)"])
                                    inbound.close(promise: nil)
                                }
                            }
                        },
                    ])
                }
            }
            .bind(to: configuration.listen).get()
        logger.info(
            "forwarding", metadata: ["listen": "\(channel.localAddress!.hostPortText)", "server": "\(configuration.server.hostPortText)", "target": "\(configuration.target)"])
        return TunnelForwarder(channel: channel, configuration: configuration)
    }

    public func close() async throws {
        try await channel.close()
    }
}
