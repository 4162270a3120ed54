import AmbitAPI
import AmbitCore
import Logging
import NIOConcurrencyHelpers

/// The mesh as the control plane pushes it (`ConfigDiscovery.DeltaConfig` on the control
/// port, mutual TLS as this node): a `ConfigSource` over `ControlPlaneClient`.
///
/// The client validates every pushed set by building a `MeshSnapshot` from it and NACKs
/// what does not build, so only snapshots that validated are yielded, and only once every
/// subscribed type has been received (the first snapshot is the whole config). While the control
/// plane is away the client reconnects with backoff and resyncs by reporting what it holds;
/// meanwhile nothing is yielded and the daemon keeps serving the last snapshot.
///
/// When the node certificate is renewed, the stream is reopened with the new certificate
/// (a reconnect would otherwise present the old one, eventually expired), carrying over
/// the accepted set so only differences travel.
///
/// `run()` does the work; start it before (or while) reading `snapshots()`.
public final class ControlPlaneSource: ConfigSource {
    public let controlPlane: NodeControlPlane
    private let backoff: ReconnectBackoff
    private let logger: Logger
    private let broadcast = SnapshotBroadcast()
    private let state = NIOLockedValueBox<State>(State())

    private struct State {
        var client: ControlPlaneClient?
        /// The serial of the node certificate the current client presents.
        var clientCertificate: String?
        /// The set accepted last, by whichever client; the next client starts from it.
        var accepted: AcceptedConfig?
        /// The snapshot built while validating a candidate, so an accepted set is decoded
        /// once, not again when it is published.
        var validated: (config: AcceptedConfig, snapshot: MeshSnapshot)?
    }

    public init(controlPlane: NodeControlPlane, backoff: ReconnectBackoff = ReconnectBackoff(), logger: Logger = Logger(label: "ambit.node.config")) {
        self.controlPlane = controlPlane
        self.backoff = backoff
        self.logger = logger
    }

    /// The last accepted snapshot once there is one, then each accepted change.
    public func snapshots() -> AsyncStream<MeshSnapshot> { broadcast.subscribe() }

    /// The last accepted snapshot, if any.
    public var current: MeshSnapshot? { broadcast.current }

    /// The push client's state (connected, retries, NACKs), for status and logs.
    public var status: ControlPlaneClient.Status? {
        // Not inside our lock: the client's lock is held while it validates, and validating
        // takes ours.
        let client = state.withLockedValue { $0.client }
        return client?.status
    }

    /// The serial of the node certificate the config stream presents.
    var streamCertificateSerial: String? { state.withLockedValue { $0.clientCertificate } }

    /// Keeps a config stream open until cancelled.
    public func run() async {
        while !Task.isCancelled {
            // Watch for renewals before reading the certificate, so none falls in between.
            let renewals = controlPlane.changes()
            let client: ControlPlaneClient
            let serial = controlPlane.certificate.serial
            do { client = try makeClient() } catch {
                // Only a certificate that cannot be serialized gets here; wait for another.
                logger.error("cannot set up the control-plane connection; waiting for a new node certificate", metadata: ["error": "\(error)"])
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
                logger.info("node certificate renewed; reopening the config stream with it")
            }
        }
    }

    private func makeClient() throws -> ControlPlaneClient {
        var node = Ambit_V1_Node()
        node.id = controlPlane.nodeName
        node.metadata = ["role": "node"]
        let configuration = ControlPlaneClient.Configuration(
            host: controlPlane.address.host, port: controlPlane.address.port, security: .tls(try controlPlane.clientSecurity()),
            node: node, typeURLs: ResourceTypes.node, backoff: backoff)
        let initial = state.withLockedValue { $0.accepted }
        return ControlPlaneClient(configuration: configuration, initial: initial, clock: controlPlane.clock, logger: logger) { [state] candidate in
            do {
                let snapshot = try candidate.meshSnapshot()
                state.withLockedValue { $0.validated = (candidate, snapshot) }
                return nil
            } catch {
                return "\(error)"
            }
        }
    }

    private func publish(_ config: AcceptedConfig) {
        // The push answers each type separately; until every type has been answered once
        // the set is a fragment (say, namespaces without their workloads), and a daemon
        // started from it would un-enrol the pods it adopted on restart.
        let complete = ResourceTypes.node.allSatisfy { config.systemVersions[$0] != nil }
        let (changed, cached) = state.withLockedValue { s -> (Bool, MeshSnapshot?) in
            // A new client first repeats the set it was started with: nothing new.
            let changed = s.accepted != config
            s.accepted = config
            return (changed, s.validated?.config == config ? s.validated?.snapshot : nil)
        }
        guard complete, changed, let snapshot = cached ?? (try? config.meshSnapshot()) else { return }
        broadcast.publish(snapshot)
        logger.info("config accepted from the control plane", metadata: ["workloads": "\(snapshot.workloads.count)", "services": "\(snapshot.services.count)"])
    }
}
