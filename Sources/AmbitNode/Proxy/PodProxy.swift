import AmbitCore
import AmbitRedirect
import AmbitTunnel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Everything the node runs for one enrolled pod: its listeners inside the pod's network
/// namespace (15001 outbound, 15006 plaintext inbound, 15008 HBONE inbound, 15053 DNS),
/// the HBONE client its outbound tunnels leave through, and its open connections.
///
/// All listeners are bound before the pod's nftables rules go in (see `NodeDaemon`), so
/// there is never a moment when the rules redirect to a port nobody listens on.
final class PodProxy: Sendable {
    let target: EnrolmentPlan.Target
    let namespace: NetworkNamespace
    let network: PodNetwork
    let context: NodeContext
    let client: HBONEClient
    let connections = ConnectionTable()
    let enrolledAt: Double
    private let servers = NIOLockedValueBox<[@Sendable () async -> Void]>([])

    private init(target: EnrolmentPlan.Target, namespace: NetworkNamespace, context: NodeContext) {
        self.target = target
        self.namespace = namespace
        self.context = context
        self.network = PodNetwork(namespace: namespace, executor: context.executor, mark: context.rules.mark)
        self.client = HBONEClient(
            group: context.group, tls: context.identity.tls, connector: network, clock: context.clock,
            logger: context.logger)
        self.enrolledAt = context.clock.now()
    }

    /// Opens the pod's namespace and binds every listener in it.
    static func start(_ target: EnrolmentPlan.Target, context: NodeContext) async throws -> PodProxy {
        let namespace = try NetworkNamespace(path: target.netns)
        let proxy = PodProxy(target: target, namespace: namespace, context: context)
        do {
            try await proxy.bindListeners()
        } catch {
            await proxy.close(drainSeconds: 0)
            throw error
        }
        return proxy
    }

    /// This pod's workload in the current snapshot (nil once it has left).
    func workload(in snapshot: MeshSnapshot) -> Workload? {
        snapshot.workloads.first { $0.metadata.key == target.key }
    }

    var podAddress: IPAddress { target.addresses[0] }

    // MARK: - Listeners

    private func bindListeners() async throws {
        let rules = context.rules
        let mark = rules.mark
        let executor = context.executor
        let ns = namespace
        func listener(_ port: Int) async throws -> NIOBSDSocket.Handle {
            try await executor.run(in: ns) { try NamespaceSockets.tcpListener(port: port, mark: mark) }
        }
        // Outbound capture.
        let outboundFD = try await listener(rules.outboundPort)
        let outbound = try await Self.acceptor(group: context.group) { [weak self] channel in self?.handleOutbound(channel) }
            .withBoundSocket(outboundFD).get()
        addServer { try? await outbound.close() }
        // Plaintext inbound capture.
        let plaintextFD = try await listener(rules.inboundPlaintextPort)
        let plaintext = try await Self.acceptor(group: context.group) { [weak self] channel in self?.handlePlaintextInbound(channel) }
            .withBoundSocket(plaintextFD).get()
        addServer { try? await plaintext.close() }
        // HBONE inbound.
        let hboneFD = try await listener(rules.inboundTunnelPort)
        let server = try await bindTunnelServer(socket: hboneFD)
        addServer { try? await server.close() }
        // DNS.
        if rules.captureDNS {
            let udp = try await executor.run(in: ns) { try NamespaceSockets.udpSocket(port: rules.dnsPort, mark: mark, loopback: true) }
            let tcp = try await listener(rules.dnsPort)
            let stop = try await startDNS(udp: udp, tcp: tcp)
            addServer(stop)
        }
    }

    func addServer(_ stop: @escaping @Sendable () async -> Void) {
        servers.withLockedValue { $0.append(stop) }
    }

    /// A server bootstrap for captured connections: nothing is read until the connection
    /// knows where it goes, and half-closes pass through.
    static func acceptor(group: any EventLoopGroup, _ handle: @escaping @Sendable (Channel) -> Void) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([InputHoldHandler(), StartWhenActive(handle)])
                }
            }
    }

    // MARK: - Shutdown

    /// Stops accepting, lets open connections finish for up to `drainSeconds`, then
    /// closes what is left.
    func close(drainSeconds: Double) async {
        let stops = servers.withLockedValue { s -> [@Sendable () async -> Void] in
            defer { s = [] }
            return s
        }
        for stop in stops { await stop() }
        let deadline = context.clock.now() + drainSeconds
        while connections.count > 0 && context.clock.now() < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        connections.closeAll()
        client.shutdown()
    }
}
