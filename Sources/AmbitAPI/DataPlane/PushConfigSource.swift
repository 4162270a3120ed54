import AmbitCore
import Logging
import NIOConcurrencyHelpers

/// The mesh as the control plane pushes it to one data-plane process (`DeltaConfig` on the
/// control port, mutual TLS as that process): a `ConfigSource` over `ControlPlaneClient`.
///
/// The client validates every pushed set by building a `MeshSnapshot` from it and NACKs
/// what does not build, so only snapshots that validated are yielded, and only once every
/// subscribed type has been received (the first snapshot is the whole config, never a
/// fragment that would make a restarted node un-enrol its pods).
///
/// While the control plane is away the client reconnects with backoff and resyncs by
/// reporting what it holds; meanwhile nothing is yielded and the process keeps serving
/// the last snapshot. Each accepted set is also written to the state directory
/// (`AcceptedConfigFile`), so that a process restarted while the control plane is down
/// can serve too: it starts from the stored set, and if the control plane has not
/// answered by the time its first connection attempt fails (or within `startupGrace`),
/// it publishes the stored set, saying so in the log. When the control plane is back,
/// the stream confirms or corrects that set (only differences travel) and the result is
/// published.
///
/// When the process's certificate is renewed, the stream is reopened with the new
/// certificate (a reconnect would otherwise present the old one, eventually expired),
/// carrying over the accepted set so only differences travel.
///
/// `run()` does the work; start it before (or while) reading `snapshots()`.
public final class PushConfigSource: ConfigSource {
    public let connection: ControlPlaneConnection
    private let backoff: ReconnectBackoff
    private let startupGrace: Double
    private let file: AcceptedConfigFile?
    private let logger: Logger
    private let broadcast = SnapshotBroadcast()
    /// Validation decodes only what changed since the last accepted set.
    private let decoder: SnapshotDecoder
    private let state: NIOLockedValueBox<State>

    private struct State {
        var client: ControlPlaneClient?
        /// The serial of the certificate the current client presents.
        var clientCertificate: String?
        /// The set accepted last, by whichever client (or loaded from disk); the next client
        /// starts from it.
        var accepted: AcceptedConfig?
        /// The set whose snapshot was published last.
        var published: AcceptedConfig?
        /// The set last written to disk.
        var written: AcceptedConfig?
        /// Serving the stored set because the control plane could not be reached at start.
        var servingStored = false
        /// The snapshot built while validating a candidate, so an accepted set is decoded
        /// once, not again when it is published.
        var validated: (config: AcceptedConfig, snapshot: MeshSnapshot)?
    }

    /// - Parameters:
    ///   - persist: keep each accepted set in `connection.files.acceptedConfig` and start
    ///     from it.
    ///   - startupGrace: how long a restarted process with a stored set waits for the
    ///     control plane before it serves the stored set (it serves it at once when the
    ///     first connection attempt fails).
    public init(
        connection: ControlPlaneConnection, persist: Bool = true, backoff: ReconnectBackoff = ReconnectBackoff(), startupGrace: Double = 5,
        logger: Logger = Logger(label: "ambit.config.push")
    ) {
        self.connection = connection
        self.backoff = backoff
        self.startupGrace = startupGrace
        self.logger = logger
        let file = persist ? AcceptedConfigFile(path: connection.files.acceptedConfig) : nil
        self.file = file
        let decoder = SnapshotDecoder()
        self.decoder = decoder
        var initial = State()
        if let file {
            do {
                if let stored = try file.load() {
                    let snapshot = try decoder.snapshot(of: stored)
                    if PushConfigSource.isComplete(stored, kind: connection.kind) {
                        initial.accepted = stored
                        initial.written = stored
                        initial.validated = (stored, snapshot)
                    }
                }
            } catch {
                logger.warning("the stored config is not usable; waiting for the control plane", metadata: ["file": "\(file.path)", "error": "\(error)"])
            }
        }
        state = NIOLockedValueBox(initial)
    }

    /// The last accepted snapshot once there is one, then each accepted change.
    public func snapshots() -> AsyncStream<MeshSnapshot> { broadcast.subscribe() }

    /// The last published snapshot, if any.
    public var current: MeshSnapshot? { broadcast.current }

    /// Whether a config kept from an earlier run is being served because the control plane
    /// has not been reached since start.
    public var servingStoredConfig: Bool { state.withLockedValue { $0.servingStored } }

    /// The push client's state (connected, retries, NACKs), for status and logs.
    public var status: ControlPlaneClient.Status? {
        // Not inside our lock: the client's lock is held while it validates, and validating
        // takes ours.
        let client = state.withLockedValue { $0.client }
        return client?.status
    }

    /// The serial of the certificate the config stream presents.
    public var streamCertificateSerial: String? { state.withLockedValue { $0.clientCertificate } }

    /// Keeps a config stream open until cancelled.
    public func run() async {
        let fallback = Task { await serveStoredIfUnreachable() }
        defer { fallback.cancel() }
        while !Task.isCancelled {
            // Watch for renewals before reading the certificate, so none falls in between.
            let renewals = connection.changes()
            let client: ControlPlaneClient
            let serial = connection.certificate.serial
            do { client = try makeClient() } catch {
                // Only a certificate that cannot be serialized gets here; wait for another.
                logger.error("cannot set up the control-plane connection; waiting for a new certificate", metadata: ["error": "\(error)"])
                for await _ in renewals { break }
                continue
            }
            state.withLockedValue { s in
                s.client = client
                s.clientCertificate = serial
            }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                group.addTask {
                    for await config in client.configs() { self.publish(config) }
                }
                group.addTask {
                    for await _ in renewals { break }
                }
                // The first to finish is a renewal (or, on cancellation, any): reopen.
                _ = await group.next()
                group.cancelAll()
            }
            if !Task.isCancelled {
                logger.info("\(connection.kind) certificate renewed; reopening the config stream with it")
            }
        }
    }

    private func makeClient() throws -> ControlPlaneClient {
        let kind = connection.kind
        let configuration = ControlPlaneClient.Configuration(
            host: connection.address.host, port: connection.address.port, security: .tls(try connection.clientSecurity()),
            node: kind.streamNode, typeURLs: kind.typeURLs, backoff: backoff)
        let initial = state.withLockedValue { $0.accepted }
        return ControlPlaneClient(configuration: configuration, initial: initial, clock: connection.clock, logger: logger) { [state, decoder] candidate in
            do {
                let snapshot = try decoder.snapshot(of: candidate)
                state.withLockedValue { $0.validated = (candidate, snapshot) }
                return nil
            } catch {
                return "\(error)"
            }
        }
    }

    static func isComplete(_ config: AcceptedConfig, kind: DataPlaneKind) -> Bool {
        kind.typeURLs.allSatisfy { config.systemVersions[$0] != nil }
    }

    private func publish(_ config: AcceptedConfig) {
        // The push answers each type separately; until every type has been answered once
        // the set is a fragment (say, namespaces without their workloads), and a daemon
        // started from it would un-enrol the pods it adopted on restart.
        let complete = Self.isComplete(config, kind: connection.kind)
        let (changed, cached, write, wasServingStored) = state.withLockedValue { s -> (Bool, MeshSnapshot?, Bool, Bool) in
            s.accepted = config
            guard complete else { return (false, nil, false, false) }
            // A new client first repeats the set it was started with: nothing new.
            let changed = s.published != config
            let write = s.written != config
            let wasServingStored = s.servingStored
            s.servingStored = false
            return (changed, s.validated?.config == config ? s.validated?.snapshot : nil, write, wasServingStored)
        }
        guard complete else { return }
        if write, let file {
            do {
                try file.write(config)
                state.withLockedValue { $0.written = config }
            } catch {
                logger.warning("cannot keep the accepted config; a restart while the control plane is down will have none", metadata: ["error": "\(error)"])
            }
        }
        if wasServingStored {
            logger.notice("reached the control plane; in sync again", metadata: ["control": "\(connection.address)", "changed": "\(changed)"])
        }
        guard changed, let snapshot = cached ?? (try? decoder.snapshot(of: config)) else { return }
        state.withLockedValue { $0.published = config }
        broadcast.publish(snapshot)
        logger.info("config accepted from the control plane", metadata: ["workloads": "\(snapshot.workloads.count)", "services": "\(snapshot.services.count)"])
    }

    /// At start with a stored set: serve it if the control plane does not answer first.
    private func serveStoredIfUnreachable() async {
        let stored = state.withLockedValue { s -> (config: AcceptedConfig, snapshot: MeshSnapshot)? in
            guard s.published == nil, let validated = s.validated, validated.config == s.accepted else { return nil }
            return validated
        }
        guard let stored else { return }
        let started = ContinuousClock.now
        while !Task.isCancelled {
            // The client's status outside our lock: its lock is held while it validates, and
            // validating takes ours.
            let (published, client) = state.withLockedValue { ($0.published != nil, $0.client) }
            if published { return }
            let failed = client?.status.lastError
            if failed != nil || ContinuousClock.now - started >= .seconds(startupGrace) {
                let use = state.withLockedValue { s -> Bool in
                    guard s.published == nil else { return false }
                    s.published = stored.config
                    s.servingStored = true
                    return true
                }
                guard use else { return }
                broadcast.publish(stored.snapshot)
                logger.warning(
                    "the control plane is unreachable; serving the config accepted before the restart until it is back",
                    metadata: [
                        "control": "\(connection.address)", "error": "\(failed ?? "no answer within \(startupGrace) s")",
                        "file": "\(connection.files.acceptedConfig)", "workloads": "\(stored.snapshot.workloads.count)",
                        "services": "\(stored.snapshot.services.count)",
                    ])
                return
            }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }
}
