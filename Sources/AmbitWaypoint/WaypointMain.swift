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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let daemon: WaypointDaemon
        do {
            daemon = try await WaypointDaemon.make(
                configuration: configuration, source: source, initial: initial, group: group, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let ports = await daemon.boundPorts
        let scope = configuration.scope
        print(
            "ambit waypoint \(scope.namespace)/\(scope.name): config \(configPath); identity \(daemon.identity.id); HBONE \(daemon.hboneAddress)"
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
