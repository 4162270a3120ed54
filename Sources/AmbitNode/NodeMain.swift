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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let daemon: NodeDaemon
        do {
            daemon = try await NodeDaemon.make(configuration: configuration, source: source, initial: initial, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let ports = await daemon.boundPorts
        print("ambit node \(configuration.nodeName): config \(configPath); metrics :\(ports.first ?? 0), admin \(configuration.adminAddress)")
        let running = Task { await daemon.run() }
        let signal = await TerminationSignal.wait()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        running.cancel()
        await daemon.shutdown()
        _ = await running.result
        try? await group.shutdownGracefully()
    }
}
