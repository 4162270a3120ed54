import AmbitAPI
import AmbitCore
import Logging
import NIOPosix

extension WaypointDaemon {
    /// `ambit waypoint --config FILE`: loads the file (a bad one stops start-up with its
    /// error), starts the waypoint, follows the file's changes, and runs until
    /// SIGTERM/SIGINT, then drains (GOAWAY) and exits.
    public static func runFromFile(
        configPath: String, configuration: Configuration, threads: Int, logger: Logger
    ) async throws {
        let source = FileConfigSource(path: configPath, logger: logger)
        let initial = try source.load()
        let signal = Task { await TerminationSignal.wait() }
        try await serve(
            configuration: configuration, source: source, initial: initial, identity: nil, threads: threads,
            describe: "config \(configPath)", signal: signal, logger: logger)
    }

    /// `ambit waypoint --control HOST:PORT`: joins the control plane once with a token
    /// (`ambit control token create --waypoint NS/NAME`), then reuses the identity kept in
    /// the state directory. Config is pushed (this waypoint's namespace only, see
    /// docs/control-plane.md) and kept on disk, so a restart while the control plane is down
    /// serves the last accepted config until it is back.
    public static func runWithControlPlane(
        control: HostPort, token: String?, trustBundle: String?, trustDomain: String, joinPort: Int?,
        configuration: Configuration, threads: Int, logger: Logger
    ) async throws {
        let scope = configuration.scope
        let signal = Task { await TerminationSignal.wait() }
        let joined: DataPlaneControl.Joined
        do {
            joined = try await DataPlaneControl.join(
                kind: .waypoint(namespace: scope.namespace, name: scope.name), control: control, token: token,
                trustBundle: trustBundle, stateDir: configuration.stateDirectory ?? "/var/lib/ambit/waypoint", trustDomain: trustDomain, joinPort: joinPort,
                logger: logger)
        } catch {
            throw WaypointError(.startup, "\(error)")
        }
        let following = Task { await joined.run() }
        defer { following.cancel() }
        logger.info("waiting for the first config from the control plane", metadata: ["control": "\(control)"])
        let first = Task { () -> MeshSnapshot? in
            for await snapshot in joined.config.snapshots() { return snapshot }
            return nil
        }
        let stopWaiting = Task {
            _ = await signal.value
            first.cancel()
        }
        guard let initial = await first.value else {
            logger.info("stopping before the first config arrived")
            return
        }
        stopWaiting.cancel()
        let identity = await WaypointIdentity.controlPlane(joined, clock: SystemWallClock(), logger: logger)
        try await serve(
            configuration: configuration, source: joined.config, initial: initial, identity: identity, threads: threads,
            describe: "control plane \(control)", signal: signal, logger: logger)
    }

    /// Starts the daemon from its first config, prints where it listens, and serves until
    /// `signal`, then drains (GOAWAY) and exits. `identity` nil: signed by the local CA.
    private static func serve(
        configuration: Configuration, source: any ConfigSource, initial: MeshSnapshot, identity: WaypointIdentity?, threads: Int,
        describe: String, signal: Task<String, Never>, logger: Logger
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let daemon: WaypointDaemon
        do {
            daemon = try await WaypointDaemon.make(
                configuration: configuration, source: source, initial: initial, group: group, identity: identity, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let ports = await daemon.boundPorts
        let scope = configuration.scope
        print(
            "ambit waypoint \(scope.namespace)/\(scope.name): \(describe); identity \(daemon.identity.id); HBONE \(daemon.hboneAddress)"
                + (daemon.plainHTTPAddress.map { ", plain HTTP \($0) (benchmark/debug, no mTLS)" } ?? "")
                + "; metrics :\(ports.first ?? 0), admin \(configuration.adminAddress)")
        let running = Task { await daemon.run() }
        let received = await signal.value
        logger.info("stopping", metadata: ["signal": "\(received)"])
        running.cancel()
        await daemon.shutdown()
        _ = await running.result
        try? await group.shutdownGracefully()
    }
}
