import NIOCore
import NIOPosix

/// How the HBONE server reaches a destination once it decided to forward. The node daemon
/// plugs in a dialer that connects from inside the destination pod's network namespace.
public protocol Dialer: Sendable {
    /// Connects to `address` on `eventLoop`. The channel must be created with `autoRead`
    /// off, remote half-closure allowed and an `InputHoldHandler` in its pipeline; the
    /// server adds the glue.
    func dial(_ address: SocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<Channel>
}

/// Plain TCP from this process's network namespace.
public struct TCPDialer: Dialer {
    public var connectTimeout: TimeAmount

    public init(connectTimeout: TimeAmount = .seconds(5)) {
        self.connectTimeout = connectTimeout
    }

    public func dial(_ address: SocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<Channel> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InputHoldHandler())
                }
            }
            .connect(to: address)
    }
}

/// Makes the TCP connection under an HBONE client connection. The node daemon plugs in one
/// that creates the socket inside the source pod's network namespace, so tunnels leave
/// from the pod's own address, as its traffic would without the mesh.
public protocol SocketConnector: Sendable {
    /// Connects `bootstrap` (already configured by the caller) to `address`, on the
    /// bootstrap's event loop; the connector decides where the socket is created.
    func connect(_ bootstrap: ClientBootstrap, to address: SocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<Channel>
}
