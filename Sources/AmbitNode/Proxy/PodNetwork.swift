import AmbitRedirect
import AmbitTunnel
import Glibc
import NIOCore
import NIOPosix

/// Connections the daemon makes on a pod's behalf, made from inside that pod's network
/// namespace with the daemon's mark: the app behind an inbound tunnel is dialled there, and
/// outbound tunnels and passthrough leave from the pod's own address, as its traffic would
/// without the mesh (so NetworkPolicies and peers see the pod, not the node).
struct PodNetwork: Dialer, SocketConnector {
    let namespace: NetworkNamespace
    let executor: NamespaceExecutor
    let mark: UInt32
    var connectTimeout: TimeAmount = .seconds(5)

    /// SwiftNIO creates a channel's socket synchronously inside `connect(to:)`, so calling
    /// it from within the pod's namespace (on this event-loop thread, for the few
    /// microseconds it takes) puts the socket there; the connect itself completes later,
    /// from anywhere. The mark is a channel option, set before the connect is issued.
    func connect(_ bootstrap: ClientBootstrap, to address: SocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<Channel> {
        let marked = bootstrap.channelOption(ChannelOptions.socketOption(.init(rawValue: SO_MARK)), value: .init(mark))
        return eventLoop.flatSubmit {
            do {
                return try executor.runHere(in: namespace) { marked.connect(to: address) }
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// A connected socket descriptor from inside the pod, for code that adopts descriptors
    /// itself (the DNS forwarder's rare TCP retry).
    func connectedSocket(to address: SocketAddress, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<NIOBSDSocket.Handle> {
        let mark = self.mark
        return executor.run(in: namespace, on: eventLoop) {
            try NamespaceSockets.tcpSocket(for: address, mark: mark)
        }.flatMap { fd in
            NonBlockingConnect.connect(fd, to: address, timeout: timeout, on: eventLoop)
        }
    }

    /// A TCP channel to `address` from inside the pod, ready for glue: autoRead off,
    /// half-closure allowed, early bytes held.
    func dial(_ address: SocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<Channel> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InputHoldHandler())
                }
            }
        return connect(bootstrap, to: address, on: eventLoop)
    }
}

extension Channel {
    /// Closes with a TCP reset rather than a FIN: how the node says "refused" to an app
    /// whose connection it already accepted (there is no way to refuse a redirected SYN).
    func reset() {
        let linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        if let provider = self as? SocketOptionProvider {
            provider.setSoLinger(linger).whenComplete { _ in self.close(promise: nil) }
        } else {
            close(promise: nil)
        }
    }
}
