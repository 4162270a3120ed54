import AmbitAPI
import AmbitCore
import AmbitIdentity
import AmbitTelemetry
import AmbitTunnel
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `ambit waypoint`: the L7 proxy of one namespace (one Gateway of class `ambit-waypoint`).
///
/// Nodes send it the traffic of the services that use it, over HBONE with the service
/// VIP:port as `:authority`. It terminates each CONNECT here (never dials the VIP), serves
/// the HTTP inside through `RequestPath`, and opens its own HBONE tunnels to the chosen
/// endpoints as itself. All listeners are bound by `make`, so a port clash fails start-up.
public actor WaypointDaemon {
    public struct Configuration: Sendable {
        public var scope: WaypointScope
        /// A CA directory for the waypoint's certificate; default: the MeshConfig's.
        public var caDirectory: String?
        public var hboneAddress = HostPort(host: "0.0.0.0", port: 15008)
        /// The plain-HTTP benchmark/debug listener (no HBONE, no mTLS); off when nil.
        public var plainHTTPAddress: HostPort?
        /// Where the plain listener sends requests; default: the served service's endpoints over plain TCP.
        public var plainUpstream: HostPort?
        public var metricsAddress = HostPort(host: "0.0.0.0", port: 15020)
        public var readinessAddress = HostPort(host: "0.0.0.0", port: 15021)
        public var adminAddress = HostPort(host: "127.0.0.1", port: 15000)
        /// On SIGTERM, open tunnels get this long to finish after GOAWAY.
        public var drainSeconds = 5.0
        /// nil turns the access log off.
        public var accessLogFormat: AccessLogFormat? = .text
        /// The HBONE port of endpoints (15008; loopback tests use another).
        public var upstreamHBONEPort = 15008
        /// Where the daemon may keep state (nothing yet; reserved like `ambit node`'s).
        public var stateDirectory: String?
        /// OTLP/gRPC collector for the waypoint's server spans (`http://host:4317`); nil
        /// turns tracing off (trace headers then pass through untouched).
        public var otlpEndpoint: String?
        /// Share of requests that arrive without a sampling decision to trace, 0–100
        /// (Istio's default 1 %). A caller's decision is always followed.
        public var traceSamplePercent = 1.0

        public init(scope: WaypointScope) {
            self.scope = scope
        }
    }

    public let configuration: Configuration
    public let identity: WaypointIdentity
    public let telemetry: WaypointTelemetry
    private let source: any ConfigSource
    private let loops: WaypointLoops
    private let hbone: HBONEServer
    private let plainListener: Channel?
    private let client: HBONEClient
    private let openTunnels: NIOLockedValueBox<Int>
    private let logger: Logger
    var httpServers: [AdminHTTPServer] = []
    let group: any EventLoopGroup
    private var current: WaypointConfig
    private var ready = false
    /// The span exporter and the task running it, when tracing is on.
    private let exporter: OTLPTraceExporter?
    private var exporterTask: Task<Void, Never>?

    public static func make(
        configuration: Configuration, source: any ConfigSource, initial: MeshSnapshot, group: any EventLoopGroup,
        clock: any WallClock = SystemWallClock(), accessLogSink: (any AccessLogSink)? = nil,
        identity givenIdentity: WaypointIdentity? = nil,
        logger: Logger = Logger(label: "ambit.waypoint")
    ) async throws -> WaypointDaemon {
        let scope = configuration.scope
        if initial.gateway(namespace: scope.namespace, name: scope.name) == nil {
            logger.warning(
                "no Gateway \(scope.namespace)/\(scope.name) in the config yet; serving the services labelled ambit.dev/use-waypoint=\(scope.name) anyway")
        }
        // Control-plane mode hands in the identity it joined with; file mode signs one locally.
        let identity: WaypointIdentity
        if let givenIdentity {
            identity = givenIdentity
        } else {
            identity = try await WaypointIdentity.localCA(
                scope: scope, directory: configuration.caDirectory, mesh: initial.mesh, clock: clock, logger: logger)
        }
        let accessLog = configuration.accessLogFormat.map {
            AccessLog(format: $0, sink: accessLogSink ?? FileDescriptorAccessLogSink.standardOutput)
        }
        var exporter: OTLPTraceExporter?
        var tracer = RequestTracer.disabled
        if let endpoint = configuration.otlpEndpoint {
            do {
                let export = try OTLPTraceExporter(
                    configuration: .waypoint(name: scope.name, namespace: scope.namespace, endpoint: endpoint), logger: logger)
                exporter = export
                tracer = RequestTracer(sink: export, sampler: TraceSampler(rate: configuration.traceSamplePercent / 100))
            } catch {
                throw WaypointError(.startup, "cannot export traces to \(endpoint): \(error); give --otlp-endpoint as http://HOST:PORT (OTLP/gRPC, usually port 4317)")
            }
        }
        let telemetry = WaypointTelemetry(accessLog: accessLog, tracer: tracer)
        let client = HBONEClient(group: group, tls: identity.tls, clock: clock, logger: logger)
        let plainUpstream = try configuration.plainUpstream.map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
        let config = WaypointConfig(snapshot: initial, scope: scope, plainUpstream: plainUpstream)
        let loops = try await WaypointLoops(
            group: group, config: config, meshConnector: HBONEConnector(client: client, source: identity.id, hbonePort: configuration.upstreamHBONEPort),
            plainConnector: PlainConnector())
        let openTunnels = NIOLockedValueBox(0)

        var serverConfiguration = HBONEServer.Configuration(
            address: try SocketAddress.makeAddressResolvingHost(configuration.hboneAddress.host, port: configuration.hboneAddress.port),
            identity: identity.id)
        serverConfiguration.handshakeTimeout = .seconds(10)
        let hbone: HBONEServer
        do {
            hbone = try await HBONEServer.bind(
                serverConfiguration, group: group, tls: identity.tls, logger: logger,
                onEstablished: { _, channel in
                    openTunnels.withLockedValue { $0 += 1 }
                    channel.closeFuture.whenComplete { _ in openTunnels.withLockedValue { $0 -= 1 } }
                },
                decideNow: { request in Self.decide(request, loops: loops, telemetry: telemetry) },
                decide: { request in Self.decide(request, loops: loops, telemetry: telemetry) })
        } catch {
            client.shutdown()
            throw WaypointError(
                .startup, "cannot listen for HBONE on \(configuration.hboneAddress): \(error); is another waypoint or node daemon using the port?")
        }
        var plainListener: Channel?
        if let address = configuration.plainHTTPAddress {
            do {
                plainListener = try await PlainHTTPListener.bind(address, group: group, loops: loops, telemetry: telemetry)
            } catch {
                try? await hbone.close()
                client.shutdown()
                throw WaypointError(.startup, "cannot listen for plain HTTP on \(address): \(error)")
            }
        }
        let daemon = WaypointDaemon(
            configuration: configuration, identity: identity, telemetry: telemetry, source: source, loops: loops, hbone: hbone,
            plainListener: plainListener, client: client, openTunnels: openTunnels, config: config, group: group, exporter: exporter,
            logger: logger)
        await daemon.startExporter()
        do {
            try await daemon.bindServers()
        } catch {
            await daemon.shutdown()
            throw error
        }
        return daemon
    }

    private init(
        configuration: Configuration, identity: WaypointIdentity, telemetry: WaypointTelemetry, source: any ConfigSource,
        loops: WaypointLoops, hbone: HBONEServer, plainListener: Channel?, client: HBONEClient, openTunnels: NIOLockedValueBox<Int>,
        config: WaypointConfig, group: any EventLoopGroup, exporter: OTLPTraceExporter?, logger: Logger
    ) {
        self.exporter = exporter
        self.group = group
        self.configuration = configuration
        self.identity = identity
        self.telemetry = telemetry
        self.source = source
        self.loops = loops
        self.hbone = hbone
        self.plainListener = plainListener
        self.client = client
        self.openTunnels = openTunnels
        self.current = config
        self.logger = logger
    }

    /// The HBONE listener's address (useful with port 0).
    /// Starts the span exporter and waits (briefly) until it takes spans, so the first
    /// requests are traced too.
    private func startExporter() async {
        guard let exporter else { return }
        let logger = self.logger
        exporterTask = Task {
            do {
                try await exporter.run()
            } catch {
                logger.error("trace export stopped: \(error)")
            }
        }
        for _ in 0..<400 where !exporter.isRunning { try? await Task.sleep(nanoseconds: 5_000_000) }
    }

    public nonisolated var hboneAddress: SocketAddress { hbone.localAddress }
    public nonisolated var plainHTTPAddress: SocketAddress? { plainListener?.localAddress }

    // MARK: - Serving

    /// One CONNECT: served here when its authority is a service this waypoint serves.
    /// Runs on the stream's event loop.
    static func decide(_ request: ConnectRequest, loops: WaypointLoops, telemetry: WaypointTelemetry) -> ConnectDecision {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else {
            return .unavailable(reason: "the waypoint is shutting down")
        }
        let state = loops.state(for: loop)
        let config = state.config
        switch config.scope.destination(for: request.authority, in: config.snapshot) {
        case .unknown(let reason):
            return .unavailable(reason: reason)
        case .notServed(let reason):
            return .reject(reason: reason)
        case .served(let destination):
            let sourceWorkload = request.forwardedFor
                .flatMap { try? HostPort(parsing: $0) }
                .flatMap { IPAddress($0.host) }
                .flatMap { config.snapshot.workload(at: $0) }
            let source = SourcePeer(
                principal: request.peer, workload: sourceWorkload, address: request.forwardedFor, securityPolicy: "mutual_tls")
            return .terminate(
                LocalStream { channel in
                    let session = DownstreamSession(
                        source: source, destination: destination, loop: loops.state(for: channel.eventLoop), telemetry: telemetry,
                        plain: false)
                    try channel.pipeline.syncOperations.addHandler(GracefulStreamClose())
                    try DownstreamPipeline.install(destination.tunnelProtocol, session: session, on: channel)
                })
        }
    }

    /// Applies each snapshot as it comes until cancelled.
    public func run() async {
        ready = true
        for await snapshot in source.snapshots() {
            if Task.isCancelled { break }
            apply(snapshot)
        }
    }

    /// Swaps the config on every event loop: new requests see it, requests in flight finish
    /// on the one they started with.
    public func apply(_ snapshot: MeshSnapshot) {
        let plainUpstream = configuration.plainUpstream.flatMap { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
        let config = WaypointConfig(snapshot: snapshot, scope: configuration.scope, plainUpstream: plainUpstream)
        current = config
        loops.update(config)
        ready = true
        logger.info("config applied", metadata: ["backends": "\(config.backends.count)"])
    }

    /// SIGTERM: GOAWAY to every node connection and stop accepting; open tunnels get
    /// `drainSeconds` to finish; then everything closes.
    public func shutdown() async {
        ready = false
        logger.info("shutting down: draining tunnels", metadata: ["open": "\(openTunnels.withLockedValue { $0 })"])
        try? await hbone.close()
        try? await plainListener?.close()
        let deadline = NIODeadline.now() + .milliseconds(Int64(configuration.drainSeconds * 1000))
        while openTunnels.withLockedValue({ $0 }) > 0, NIODeadline.now() < deadline {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        await loops.closeAll()
        client.shutdown()
        for server in httpServers { await server.close() }
        httpServers = []
        // Last, so spans of the drained requests are flushed too.
        if let exporter {
            await exporter.shutdown()
            await exporterTask?.value
            exporterTask = nil
        }
    }

    // MARK: - Introspection

    public var isReady: Bool { ready }
    public var openTunnelCount: Int { openTunnels.withLockedValue { $0 } }
    public var metricsText: String { telemetry.registry.exposition() }
    var config: WaypointConfig { current }
    func idleUpstreams() async -> Int { await loops.idleUpstreams() }
}
