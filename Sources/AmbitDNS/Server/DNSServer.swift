#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix

/// The DNS server of one enrolled pod: UDP and TCP on sockets the node has already bound
/// inside the pod's network namespace (port 15053, where the pod's port-53 traffic is
/// redirected).
///
/// It answers A/AAAA for mesh names from `Configuration.names` (asked on every query, so
/// table updates apply at once), NODATA for mesh names without an address of the asked
/// type, and forwards everything else to the pod's own resolvers through sockets from
/// `Configuration.udpSocketFactory`. A malformed query gets FORMERR, or is dropped when not
/// even its header is readable; nothing a client sends stops the server.
///
/// ```swift
/// var config = DNSServer.Configuration(namespace: "default", upstreams: [resolver]) { currentTable() }
/// config.udpSocketFactory = { upstream in try podNetns.makeMarkedUDPSocket(for: upstream) }
/// let server = try await DNSServer.start(config, udpSocket: udpFD, tcpSocket: tcpFD, group: group)
/// ...
/// await server.close()
/// ```
public final class DNSServer: Sendable {
    /// Makes an unconnected UDP socket for one forwarding attempt to `upstream` (bound or
    /// not: the kernel picks a port on first send). The server owns and closes it. Called
    /// off the event loop, from a Swift task.
    public typealias UDPSocketFactory = @Sendable (_ upstream: SocketAddress) throws -> NIOBSDSocket.Handle
    /// Makes a TCP socket already connected to `upstream`, for retrying a truncated answer.
    /// The server owns and closes it.
    public typealias TCPSocketFactory = @Sendable (_ upstream: SocketAddress) async throws -> NIOBSDSocket.Handle

    public struct Timeouts: Sendable {
        /// Total time to get an answer from any upstream before answering SERVFAIL. Stub
        /// resolvers wait 5 s per try by default, so longer would answer nobody.
        public var forward: TimeAmount = .seconds(5)
        /// Time given to one upstream before asking the next (or the same one again).
        public var perUpstream: TimeAmount = .seconds(2)
        /// A TCP connection with no query for this long, and none outstanding, is closed.
        public var tcpIdle: TimeAmount = .seconds(10)

        public init() {}
    }

    public struct Configuration: Sendable {
        /// The namespace of the pod served, for the short `service` form of mesh names.
        public var namespace: String
        /// The current mesh name table; called on every query, on an event loop, so it
        /// should return a stored value rather than build one.
        public var names: @Sendable () -> MeshNameTable
        /// The pod's own resolvers (from its resolv.conf), tried in order.
        public var upstreams: [SocketAddress]
        /// Sockets for forwarding over UDP. The default makes a plain socket in the
        /// caller's network namespace, right for tests and for a server outside any pod.
        public var udpSocketFactory: UDPSocketFactory = DNSServer.plainUDPSocket
        /// Sockets for the TCP retry of a truncated answer; nil connects a plain socket
        /// with NIO (in the node's namespace, without a mark).
        public var tcpSocketFactory: TCPSocketFactory?
        public var timeouts = Timeouts()
        /// TTL of local answers.
        public var ttl: UInt32 = DNSMessage.defaultTTL
        /// Forwards waiting for an upstream at once; beyond it queries get SERVFAIL.
        public var maxForwardsInFlight = 256

        public init(namespace: String, upstreams: [SocketAddress], names: @escaping @Sendable () -> MeshNameTable) {
            self.namespace = namespace
            self.upstreams = upstreams
            self.names = names
        }
    }

    private let udpChannel: any Channel
    private let tcpChannel: any Channel
    private let engine: DNSQueryEngine
    public let configuration: Configuration
    /// Where the UDP and TCP listeners are bound (useful with port 0); kept after close.
    public let udpLocalAddress: SocketAddress?
    public let tcpLocalAddress: SocketAddress?

    private init(udp: any Channel, tcp: any Channel, engine: DNSQueryEngine, configuration: Configuration) {
        udpChannel = udp
        tcpChannel = tcp
        self.engine = engine
        self.configuration = configuration
        udpLocalAddress = udp.localAddress
        tcpLocalAddress = tcp.localAddress
    }

    // MARK: - Counters

    /// A consistent snapshot of all counters.
    public var counters: DNSServerCounters { engine.state.counters }
    public var answeredLocally: Int { counters.answeredLocally }
    public var forwarded: Int { counters.forwarded }
    public var failed: Int { counters.failed }

    // MARK: - Starting and stopping

    /// Serves on sockets the caller has created and bound: `udpSocket` a datagram socket,
    /// `tcpSocket` a stream socket (the server calls listen). The server owns both from
    /// here, closes them in `close()`, and closes them too if it fails to start.
    public static func start(
        _ configuration: Configuration, udpSocket: NIOBSDSocket.Handle, tcpSocket: NIOBSDSocket.Handle,
        group: any EventLoopGroup, logger: Logger = Logger(label: "ambit.dns")
    ) async throws -> DNSServer {
        let (engine, udpBootstrap, tcpBootstrap) = prepare(configuration, group: group, logger: logger)
        let udp: any Channel
        do {
            udp = try await udpBootstrap.withBoundSocket(udpSocket).get()
        } catch {
            _ = closeSocket(tcpSocket)
            throw error
        }
        let tcp = try await closing(udp) { try await tcpBootstrap.withBoundSocket(tcpSocket).get() }
        return started(udp: udp, tcp: tcp, engine: engine, configuration: configuration, logger: logger)
    }

    /// Binds UDP and TCP on `host:port` itself; with port 0 TCP takes the port the kernel
    /// gave UDP. For tests and for running outside a pod.
    public static func bind(
        _ configuration: Configuration, host: String = "127.0.0.1", port: Int = 0, group: any EventLoopGroup,
        logger: Logger = Logger(label: "ambit.dns")
    ) async throws -> DNSServer {
        let (engine, udpBootstrap, tcpBootstrap) = prepare(configuration, group: group, logger: logger)
        // With port 0 the kernel picks a UDP port that may already be taken for TCP; try a
        // few picks before giving up.
        var attempt = 0
        while true {
            attempt += 1
            let udp = try await udpBootstrap.bind(host: host, port: port).get()
            do {
                let tcp = try await closing(udp) {
                    try await tcpBootstrap.bind(host: host, port: udp.localAddress?.port ?? port).get()
                }
                return started(udp: udp, tcp: tcp, engine: engine, configuration: configuration, logger: logger)
            } catch {
                if port != 0 || attempt >= 5 { throw error }
            }
        }
    }

    /// Runs `body`; if it throws, closes `udp` first, so a half-started server never lingers.
    private static func closing(_ udp: any Channel, _ body: () async throws -> any Channel) async throws -> any Channel {
        do {
            return try await body()
        } catch {
            try? await udp.close()
            throw error
        }
    }

    private static func prepare(
        _ configuration: Configuration, group: any EventLoopGroup, logger: Logger
    ) -> (DNSQueryEngine, DatagramBootstrap, ServerBootstrap) {
        let forwarder = UpstreamForwarder(
            upstreams: configuration.upstreams, udpSocketFactory: configuration.udpSocketFactory,
            tcpSocketFactory: configuration.tcpSocketFactory, timeouts: configuration.timeouts, group: group, logger: logger)
        let planner = QueryPlanner(
            namespace: configuration.namespace, ttl: configuration.ttl, canForward: !configuration.upstreams.isEmpty)
        let engine = DNSQueryEngine(
            planner: planner, names: configuration.names, forwarder: forwarder,
            maxForwardsInFlight: configuration.maxForwardsInFlight, logger: logger)
        let idle = configuration.timeouts.tcpIdle
        let udpBootstrap = DatagramBootstrap(group: group)
            // EDNS queries can exceed 512 bytes; 4096 is more than any stub sends.
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPQueryHandler(engine: engine, logger: logger))
                }
            }
        let tcpBootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: idle))
                    try sync.addHandler(TCPQueryHandler(engine: engine))
                }
            }
        return (engine, udpBootstrap, tcpBootstrap)
    }

    private static func started(
        udp: any Channel, tcp: any Channel, engine: DNSQueryEngine, configuration: Configuration, logger: Logger
    ) -> DNSServer {
        logger.info(
            "DNS server listening",
            metadata: [
                "udp": "\(udp.localAddress.map { "\($0)" } ?? "?")", "tcp": "\(tcp.localAddress.map { "\($0)" } ?? "?")",
                "namespace": "\(configuration.namespace)", "upstreams": "\(configuration.upstreams)",
            ])
        return DNSServer(udp: udp, tcp: tcp, engine: engine, configuration: configuration)
    }

    /// Stops both listeners. TCP connections already accepted finish on their own (idle
    /// timeout); queries being forwarded are answered if their listener is still open.
    public func close() async {
        try? await udpChannel.close()
        try? await tcpChannel.close()
    }

    // MARK: - Default socket factory

    /// A plain unconnected UDP socket of `upstream`'s family, close-on-exec.
    public static func plainUDPSocket(for upstream: SocketAddress) throws -> NIOBSDSocket.Handle {
        #if canImport(Glibc)
        let fd = socket(upstream.protocol.rawValue, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(upstream.protocol.rawValue, SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else {
            throw DNSError(.upstreamFailed, "cannot create a UDP socket to forward to \(upstream): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    private static func closeSocket(_ socket: NIOBSDSocket.Handle) -> Int32 {
        #if canImport(Glibc)
        Glibc.close(socket)
        #else
        Darwin.close(socket)
        #endif
    }
}
