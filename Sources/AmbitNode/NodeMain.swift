import AmbitAPI
import AmbitCore
import AmbitTelemetry
import Logging
import NIOPosix

extension NodeDaemon {
    /// `ambit node --config FILE`: loads the file (a bad one stops start-up with its error),
    /// starts the daemon, and runs until SIGTERM/SIGINT, then drains and exits.
    public static func runFromFile(
        configPath: String, configuration: Configuration, threads: Int, logger: Logger
    ) async throws {
        let source = FileConfigSource(path: configPath, logger: logger)
        let initial = try source.load()
        let signal = Task { await TerminationSignal.wait() }
        try await run(
            source: source, initial: initial, identity: .localCA, configuration: configuration, threads: threads,
            describe: "config \(configPath)", signal: signal, logger: logger)
    }

    /// `ambit node --control HOST:PORT [--join TOKEN --trust-bundle FILE]`: gets the node's
    /// identity (`NodeBootstrap`: reused, or joined with the token), opens the config push,
    /// waits for the first accepted config, then runs like `runFromFile` until
    /// SIGTERM/SIGINT. The daemon keeps its last accepted config while the control plane
    /// is away.
    public static func runWithControlPlane(
        bootstrap: NodeBootstrap.Configuration, configuration: Configuration, threads: Int, logger: Logger
    ) async throws {
        let signal = Task { await TerminationSignal.wait() }
        let controlPlane = try await NodeBootstrap.start(bootstrap, logger: logger)
        // Keeps each accepted config in the state directory and, restarted while the control
        // plane is down, serves the one kept from before (said in the log) until it is back.
        let source = PushConfigSource(connection: controlPlane, logger: logger)
        let pushing = Task { await source.run() }
        defer { pushing.cancel() }
        logger.info("waiting for the first config from the control plane", metadata: ["control": "\(bootstrap.control)"])
        // The daemon starts from a real config, never an empty one (which would un-enrol
        // every pod a restarted daemon had adopted); a signal meanwhile just stops.
        let first = Task { () -> MeshSnapshot? in
            for await snapshot in source.snapshots() { return snapshot }
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
        try await run(
            source: source, initial: initial, identity: .controlPlane(controlPlane), configuration: configuration,
            threads: threads, describe: "control plane \(bootstrap.control) as \(controlPlane.nodeID)", signal: signal, logger: logger)
    }

    private static func run(
        source: any ConfigSource, initial: MeshSnapshot, identity: IdentityMode, configuration: Configuration, threads: Int,
        describe: String, signal: Task<String, Never>, logger: Logger
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let daemon: NodeDaemon
        do {
            daemon = try await NodeDaemon.make(
                configuration: configuration, source: source, initial: initial, identity: identity, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let ports = await daemon.boundPorts
        print("ambit node \(configuration.nodeName): \(describe); metrics :\(ports.first ?? 0), admin \(configuration.adminAddress)")
        let running = Task { await daemon.run() }
        let received = await signal.value
        logger.info("stopping", metadata: ["signal": "\(received)"])
        running.cancel()
        await daemon.shutdown()
        _ = await running.result
        try? await group.shutdownGracefully()
    }
}
