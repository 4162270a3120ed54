import AmbitCore
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOConcurrencyHelpers

/// A data-plane process's connection to the control plane's config push.
///
/// Keeps one `DeltaConfig` stream open, reconnecting with full-jitter backoff when it
/// ends; every new stream resyncs by reporting what is held (`initial_resource_versions`),
/// so the control plane sends only differences. Each response is validated by the
/// caller's `validate` and ACKed or NACKed; only accepted sets are published, and the last
/// accepted set stays in force while the control plane is away.
///
///     let client = ControlPlaneClient(
///         configuration: .init(host: "control", port: 15012, security: .tls(ControlPlaneTLS.client(...)),
///                              node: node, typeURLs: ResourceTypes.node),
///         validate: { candidate in
///             do { _ = try candidate.meshSnapshot(); return nil } catch { return "\(error)" }
///         })
///     Task { await client.run() }
///     for await config in client.configs() { source.update(try config.meshSnapshot()) }
public final class ControlPlaneClient: Sendable {
    public enum Security: Sendable {
        case plaintext
        case tls(HTTP2ClientTransport.Posix.TransportSecurity)
    }

    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var security: Security
        public var node: Ambit_V1_Node
        public var typeURLs: [String]
        public var backoff: ReconnectBackoff
        /// A stream that stayed up this long (or received a response) was healthy: the
        /// backoff starts over after it.
        public var healthyAfter: Double
        /// HTTP/2 keepalive, so that a control plane that vanished without closing the
        /// connection is noticed.
        public var keepalive: HTTP2ClientTransport.Config.Keepalive?

        public init(
            host: String, port: Int, security: Security, node: Ambit_V1_Node, typeURLs: [String],
            backoff: ReconnectBackoff = ReconnectBackoff(), healthyAfter: Double = 5,
            keepalive: HTTP2ClientTransport.Config.Keepalive? = .init(time: .seconds(300), timeout: .seconds(20), allowWithoutCalls: false)
        ) {
            self.host = host
            self.port = port
            self.security = security
            self.node = node
            self.typeURLs = typeURLs
            self.backoff = backoff
            self.healthyAfter = healthyAfter
            self.keepalive = keepalive
        }
    }

    public struct Status: Sendable, Equatable {
        /// A stream is open and has received at least one response.
        public var connected = false
        /// Streams opened so far.
        public var streamsStarted = 0
        /// Failed attempts since the last healthy stream.
        public var consecutiveFailures = 0
        /// Why the last stream ended or could not start.
        public var lastError: String?
        /// The delay before the next attempt, while waiting for it.
        public var retryDelay: Double?
        public var acks = 0
        public var nacks = 0
        /// Per type, why the latest response was rejected.
        public var rejections: [String: String] = [:]
        /// Every subscribed type has been answered on the current stream: what is held is
        /// what the control plane wants (or has been NACKed with a reason).
        public var synced = false
    }

    private struct State {
        var push: PushClientState
        /// Some stream has been in sync since start: from then on every accepted change is
        /// published. Before, nothing is: a fresh client would publish fragments, and a
        /// client started from a stored set would publish it as if the control plane had
        /// confirmed it.
        var hasSynced = false
        /// The types answered on the current stream.
        var answered: Set<String> = []
        var status = Status()
        var subscribers: [Int: AsyncStream<AcceptedConfig>.Continuation] = [:]
        var nextSubscriber = 0
    }

    public let configuration: Configuration
    private let state: NIOLockedValueBox<State>
    private let validate: @Sendable (AcceptedConfig) -> String?
    private let clock: any WallClock
    private let jitter: @Sendable (Double) -> Double
    private let logger: Logger

    /// - Parameters:
    ///   - initial: a config accepted earlier (e.g. persisted); it is `accepted`, and
    ///     reported to the control plane so that only differences are sent; `configs()`
    ///     yields it (corrected) once the control plane has answered every type.
    ///   - validate: nil to accept a candidate set, or why it is rejected.
    ///   - jitter: picks a delay in [0, upper]; random by default.
    public init(
        configuration: Configuration, initial: AcceptedConfig? = nil, clock: any WallClock = SystemWallClock(),
        jitter: @escaping @Sendable (Double) -> Double = { Double.random(in: 0...$0) },
        logger: Logger = Logger(label: "ambit.push.client"),
        validate: @escaping @Sendable (AcceptedConfig) -> String?
    ) {
        self.configuration = configuration
        self.state = NIOLockedValueBox(
            State(
                push: PushClientState(node: configuration.node, typeURLs: configuration.typeURLs, accepted: initial ?? .empty)))
        self.validate = validate
        self.clock = clock
        self.jitter = jitter
        self.logger = logger
    }

    /// The set in force: the last accepted one.
    public var accepted: AcceptedConfig { state.withLockedValue { $0.push.accepted } }

    public var status: Status { state.withLockedValue { $0.status } }

    /// The accepted set once a stream has been in sync (every subscribed type answered),
    /// then each accepted change.
    public func configs() -> AsyncStream<AcceptedConfig> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let id = state.withLockedValue { s -> Int in
                s.nextSubscriber += 1
                s.subscribers[s.nextSubscriber] = continuation
                if s.hasSynced { continuation.yield(s.push.accepted) }
                return s.nextSubscriber
            }
            continuation.onTermination = { [state] _ in state.withLockedValue { _ = $0.subscribers.removeValue(forKey: id) } }
        }
    }

    /// Connects, and reconnects, until the calling task is cancelled.
    public func run() async {
        var backoff = configuration.backoff
        while !Task.isCancelled {
            let started = clock.now()
            let (healthy, error) = await runStream()
            if Task.isCancelled { break }
            if healthy || clock.now() - started >= configuration.healthyAfter { backoff.reset() }
            let delay = backoff.next(jitter: jitter)
            state.withLockedValue { s in
                s.status.connected = false
                s.status.synced = false
                s.status.lastError = error
                s.status.retryDelay = delay
                s.status.consecutiveFailures = backoff.attempts
            }
            logger.info("config stream ended; reconnecting", metadata: ["error": "\(error ?? "closed")", "delay": "\(delay)"])
            do { try await clock.sleep(for: delay) } catch { break }
        }
        let subscribers = state.withLockedValue { s in
            s.status.connected = false
            s.status.retryDelay = nil
            defer { s.subscribers.removeAll() }
            return Array(s.subscribers.values)
        }
        // Outside the lock: finishing runs onTermination, which takes it.
        for c in subscribers { c.finish() }
    }

    /// One stream, from connect to its end. Returns whether it got any response.
    private func runStream() async -> (healthy: Bool, error: String?) {
        let healthy = NIOLockedValueBox(false)
        let opening = state.withLockedValue { s -> [Ambit_V1_DeltaDiscoveryRequest] in
            s.status.streamsStarted += 1
            s.status.retryDelay = nil
            s.answered = []
            return s.push.streamStartRequests()
        }
        do {
            var transportConfig = HTTP2ClientTransport.Posix.Config.defaults
            transportConfig.connection.keepalive = configuration.keepalive
            let security: HTTP2ClientTransport.Posix.TransportSecurity
            switch configuration.security {
            case .plaintext: security = .plaintext
            case .tls(let tls): security = tls
            }
            // A fresh transport per stream: its own reconnect backoff would otherwise add to
            // ours, and a restarted control plane should be reached as soon as ours allows.
            let transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: security, config: transportConfig)
            try await withGRPCClient(transport: transport) { grpc in
                let client = Ambit_V1_ConfigDiscovery.Client(wrapping: grpc)
                var options = CallOptions.defaults
                options.waitForReady = false  // fail fast when unreachable; we back off ourselves
                let (outbound, outboundContinuation) = AsyncStream<Ambit_V1_DeltaDiscoveryRequest>.makeStream()
                for request in opening { outboundContinuation.yield(request) }
                try await client.deltaConfig(
                    options: options,
                    requestProducer: { writer in
                        for await request in outbound { try await writer.write(request) }
                    }
                ) { response in
                    defer { outboundContinuation.finish() }
                    for try await message in response.messages {
                        healthy.withLockedValue { $0 = true }
                        let reply = self.handle(message)
                        outboundContinuation.yield(reply)
                    }
                }
            }
            return (healthy.withLockedValue { $0 }, nil)
        } catch {
            return (healthy.withLockedValue { $0 }, "\(error)")
        }
    }

    private var target: any ResolvableTarget { GRPCTarget.make(host: configuration.host, port: configuration.port) }

    /// Every client of the control plane (push, CA, join) dials this way; see `GRPCTarget`.
    public static func target(host: String, port: Int) -> any ResolvableTarget { GRPCTarget.make(host: host, port: port) }

    private func handle(_ message: Ambit_V1_DeltaDiscoveryResponse) -> Ambit_V1_DeltaDiscoveryRequest {
        let validate = self.validate
        let (reply, outcome, publish) = state.withLockedValue { s in
            let (reply, outcome) = s.push.handle(message, validate: validate)
            s.status.connected = true
            s.status.consecutiveFailures = 0
            s.answered.insert(message.typeURL)
            let justSynced = !s.status.synced && s.answered.isSuperset(of: configuration.typeURLs)
            if justSynced { s.status.synced = true }
            var changed = false
            switch outcome {
            case .accepted(let c):
                changed = c
                s.status.acks += 1
                s.status.rejections[message.typeURL] = nil
            case .rejected(let reason):
                s.status.nacks += 1
                s.status.rejections[message.typeURL] = reason
            }
            var publish: (AcceptedConfig, [AsyncStream<AcceptedConfig>.Continuation])?
            if justSynced || (changed && s.hasSynced) {
                s.hasSynced = true
                publish = (s.push.accepted, Array(s.subscribers.values))
            }
            return (reply, outcome, publish)
        }
        switch outcome {
        case .accepted:
            logger.debug(
                "config accepted",
                metadata: ["type": "\(message.typeURL)", "version": "\(message.systemVersionInfo)", "resources": "\(message.resources.count)", "removed": "\(message.removedResources.count)"])
        case .rejected(let reason):
            logger.warning("config rejected; keeping the last accepted one", metadata: ["type": "\(message.typeURL)", "version": "\(message.systemVersionInfo)", "error": "\(reason)"])
        }
        if let (config, subscribers) = publish {
            for c in subscribers { c.yield(config) }
        }
        return reply
    }
}

/// gRPC targets for a host as users write it.
public enum GRPCTarget {
    /// An address target for an IP (so that TLS sends no SNI: an IP may not be one), DNS
    /// for a name.
    public static func make(host: String, port: Int) -> any ResolvableTarget {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let ip = IPAddress(bare) {
            return ip.isIPv4
                ? ResolvableTargets.IPv4.ipv4(address: bare, port: port) as any ResolvableTarget
                : ResolvableTargets.IPv6.ipv6(address: bare, port: port)
        }
        return ResolvableTargets.DNS.dns(host: host, port: port)
    }
}
