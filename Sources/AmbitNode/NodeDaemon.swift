import AmbitAPI
import AmbitCore
import AmbitIdentity
import AmbitRedirect
import AmbitTelemetry
import Glibc
import Logging
import NIOCore
import NIOPosix

/// `ambit node`: one per node. It enrols the node's opted-in pods, keeps their rules,
/// listeners and certificates in step with the config, and serves metrics and admin.
///
/// Enrolment of one pod, in order: bind its listeners inside its namespace, then install
/// its nftables table (one transaction), then record it. Un-enrolment runs the other way:
/// rules out first (new connections stop being captured), then listeners close and open
/// connections drain. A restarted daemon reconciles from its record: pods still wanted
/// are enrolled again (the table is replaced atomically, so their traffic never bypasses
/// the mesh), and pods that left while it was down lose their table.
public actor NodeDaemon {
    public struct Configuration: Sendable {
        public var nodeName: String
        /// The daemon's record of enrolled pods lives here.
        public var stateDirectory = "/var/run/ambit/node"
        public var metricsAddress = HostPort(host: "0.0.0.0", port: 15020)
        public var readinessAddress = HostPort(host: "0.0.0.0", port: 15021)
        public var adminAddress = HostPort(host: "127.0.0.1", port: 15000)
        /// On SIGTERM or un-enrolment, open connections get this long to finish.
        public var drainSeconds = 5.0
        public var accessLogFormat: AccessLogFormat = .text
        public var rules = InPodRules()
        /// Resolvers for pods whose workload names none; default: the node's resolv.conf.
        public var defaultResolvers: [IPAddress]?
        /// Failed enrolments are retried this often.
        public var retryInterval = 5.0

        public init(nodeName: String) {
            self.nodeName = nodeName
        }
    }

    /// Where workload certificates come from.
    public enum IdentityMode: Sendable {
        /// The CA the config's MeshConfig names (`spec.ca.directory`), in-process.
        case localCA
        /// The control plane's CA, asked as this node (see `NodeBootstrap`). The daemon also
        /// renews the node certificate while it runs.
        case controlPlane(NodeControlPlane)
    }

    public let configuration: Configuration
    private let source: any ConfigSource
    private let identityMode: IdentityMode
    let context: NodeContext
    let logger: Logger
    private var pods: [String: PodProxy] = [:]
    private var failures: [String: String] = [:]
    private var ready = false
    var httpServers: [AdminHTTPServer] = []
    private var lastSnapshot: MeshSnapshot
    private let recordPath: String

    /// Loads identity, binds the node's own servers (a port clash fails here, not later).
    /// With `.controlPlane`, the config needs no `MeshConfig.spec.ca`.
    public static func make(
        configuration: Configuration, source: any ConfigSource, initial: MeshSnapshot, identity identityMode: IdentityMode = .localCA,
        group: any EventLoopGroup, clock: any WallClock = SystemWallClock(), accessLogSink: (any AccessLogSink)? = nil,
        logger: Logger = Logger(label: "ambit.node")
    ) async throws -> NodeDaemon {
        let identity: NodeIdentity
        switch identityMode {
        case .localCA: identity = try await NodeIdentity.fileMode(mesh: initial.mesh, clock: clock, logger: logger)
        case .controlPlane(let controlPlane): identity = await NodeIdentity.controlPlaneMode(controlPlane, clock: clock, logger: logger)
        }
        let accessLog = AccessLog(format: configuration.accessLogFormat, sink: accessLogSink ?? FileDescriptorAccessLogSink.standardOutput)
        let telemetry = NodeTelemetry(accessLog: accessLog)
        let executor = try NamespaceExecutor()
        let context = NodeContext(
            nodeName: configuration.nodeName, snapshot: initial, telemetry: telemetry, identity: identity,
            executor: executor, rules: configuration.rules, clock: clock, logger: logger, group: group,
            defaultResolvers: configuration.defaultResolvers ?? Self.hostResolvers())
        let daemon = NodeDaemon(
            configuration: configuration, source: source, identityMode: identityMode, context: context, logger: logger, initial: initial)
        try await daemon.bindServers()
        return daemon
    }

    private init(
        configuration: Configuration, source: any ConfigSource, identityMode: IdentityMode, context: NodeContext, logger: Logger,
        initial: MeshSnapshot
    ) {
        self.configuration = configuration
        self.source = source
        self.identityMode = identityMode
        self.context = context
        self.logger = logger
        self.lastSnapshot = initial
        self.recordPath = configuration.stateDirectory + "/enrolled"
    }

    // MARK: - Running

    /// Applies each snapshot as it comes until cancelled, then shuts down gracefully.
    public func run() async {
        let retry = Task { [weak self, retryInterval = configuration.retryInterval] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(retryInterval * 1e9))
                await self?.retryFailures()
            }
        }
        var renewal: Task<Void, Never>?
        if case .controlPlane(let controlPlane) = identityMode {
            renewal = Task { await controlPlane.maintainCertificate() }
        }
        for await snapshot in source.snapshots() {
            if Task.isCancelled { break }
            await apply(snapshot)
        }
        retry.cancel()
        renewal?.cancel()
        await shutdown()
    }

    /// Brings enrolment, certificates and open connections in line with `snapshot`.
    public func apply(_ snapshot: MeshSnapshot) async {
        lastSnapshot = snapshot
        context.update(snapshot)
        let wanted = EnrolmentPlan.wanted(in: snapshot, node: configuration.nodeName)
        await context.identity.setIdentities(Set(wanted.values.map(\.identity)))
        if !ready { await forgetStale(wanted: wanted) }
        let current = pods.mapValues(\.target)
        let plan = EnrolmentPlan.make(wanted: wanted, current: current)
        for key in plan.remove { await unenrol(key) }
        for target in plan.enrol { await enrol(target) }
        failures = failures.filter { wanted[$0.key] != nil && pods[$0.key] == nil }
        for pod in pods.values { pod.recheck(snapshot) }
        context.telemetry.enrolledPods.labels().set(Double(pods.count))
        saveRecord()
        ready = true
    }

    private func retryFailures() async {
        guard !failures.isEmpty else { return }
        await apply(lastSnapshot)
    }

    private func enrol(_ target: EnrolmentPlan.Target) async {
        let started = context.clock.now()
        do {
            // Certificate first: a pod whose identity cannot be proven is not enrolled.
            _ = try await context.identity.tls.serverContext(for: target.identity)
            let proxy = try await PodProxy.start(target, context: context)
            do {
                try await PodRedirection(rules: configuration.rules, executor: context.executor).install(in: proxy.namespace)
            } catch {
                await proxy.close(drainSeconds: 0)
                throw error
            }
            pods[target.key] = proxy
            failures[target.key] = nil
            logger.info(
                "pod enrolled",
                metadata: [
                    "workload": "\(target.key)", "identity": "\(target.identity)", "netns": "\(target.netns)",
                    "ms": "\(Int((context.clock.now() - started) * 1000))",
                ])
        } catch {
            failures[target.key] = "\(error)"
            let parts = target.key.split(separator: "/")
            context.telemetry.enrolmentFailures.labels([String(parts.first ?? ""), String(parts.last ?? "")]).increment()
            logger.error("cannot enrol pod; will retry", metadata: ["workload": "\(target.key)", "error": "\(error)"])
        }
    }

    private func unenrol(_ key: String) async {
        guard let proxy = pods.removeValue(forKey: key) else { return }
        do {
            try await PodRedirection(rules: configuration.rules, executor: context.executor).remove(from: proxy.namespace)
        } catch {
            // A pod that is gone took its rules with it.
            logger.info("could not remove the pod's rules (pod gone?)", metadata: ["workload": "\(key)", "error": "\(error)"])
        }
        logger.info("pod un-enrolled; draining its connections", metadata: ["workload": "\(key)", "open": "\(proxy.connections.count)"])
        let drain = configuration.drainSeconds
        Task { await proxy.close(drainSeconds: drain) }
    }

    /// At start: remove the rules of pods this daemon enrolled before it restarted that are
    /// no longer wanted (the record names their namespaces).
    private func forgetStale(wanted: [String: EnrolmentPlan.Target]) async {
        let record = EnrolmentRecord.load(from: recordPath)
        for entry in record.entries where wanted[entry.key]?.netns != entry.netns {
            guard NetworkNamespace.identity(at: entry.netns)?.inode == entry.inode,
                let ns = try? NetworkNamespace(path: entry.netns)
            else { continue }
            do {
                try await PodRedirection(rules: configuration.rules, executor: context.executor).remove(from: ns)
                logger.info("removed stale rules left from before a restart", metadata: ["workload": "\(entry.key)", "netns": "\(entry.netns)"])
            } catch {
                logger.warning("cannot remove stale rules", metadata: ["workload": "\(entry.key)", "error": "\(error)"])
            }
        }
    }

    private func saveRecord() {
        let entries = pods.values.map {
            EnrolmentRecord.Entry(key: $0.target.key, netns: $0.target.netns, inode: $0.namespace.identity.inode)
        }.sorted { $0.key < $1.key }
        do {
            try StateDirectory.create(configuration.stateDirectory)
            try EnrolmentRecord(entries: entries).save(to: recordPath)
        } catch {
            logger.error("cannot save the enrolment record; a restart may leave stale rules", metadata: ["error": "\(error)"])
        }
    }

    /// SIGTERM: stop accepting everywhere, let connections drain, then close. The pods'
    /// rules stay: a restarted daemon adopts them, and meanwhile traffic fails closed
    /// instead of leaving the mesh.
    public func shutdown() async {
        logger.info("shutting down: draining connections", metadata: ["pods": "\(pods.count)", "drainSeconds": "\(configuration.drainSeconds)"])
        let drain = configuration.drainSeconds
        await withTaskGroup(of: Void.self) { group in
            for pod in pods.values { group.addTask { await pod.close(drainSeconds: drain) } }
        }
        pods = [:]
        for server in httpServers { await server.close() }
        httpServers = []
        try? await context.executor.shutdown()
    }

    // MARK: - Introspection

    public var enrolledWorkloads: [String] { pods.keys.sorted() }
    var podList: [PodProxy] { pods.values.sorted { $0.target.key < $1.target.key } }
    public var enrolmentFailures: [String: String] { failures }
    public var isReady: Bool { ready }
    public var openConnections: Int { pods.values.reduce(0) { $0 + $1.connections.count } }
    public var metricsText: String { context.telemetry.registry.exposition() }

    // MARK: - Helpers

    static func hostResolvers() -> [IPAddress] {
        guard let text = try? FileConfigSource.read("/etc/resolv.conf") else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, parts[0] == "nameserver", let ip = IPAddress(String(parts[1])) else { return nil }
            // A loopback resolver of the node is not reachable from inside a pod.
            return ip.isIPv4 && ip.bytes[0] == 127 ? nil : ip
        }
    }
}
