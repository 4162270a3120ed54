import AmbitTunnel
import ArgumentParser
import Logging

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Self-contained demos.", subcommands: [TunnelDemoCommand.self])

    struct TunnelDemoCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "tunnel",
            abstract: "Two workloads with different SPIFFE identities talk through HBONE with mTLS, in one process.")

        @Option(help: "How many MiB to send through the tunnel.")
        var megabytes = 256
        @Option(help: "Log level.")
        var logLevel: Logger.Level = .warning

        func run() async throws {
            let level = logLevel
            LoggingSystem.bootstrap { name in
                var handler = StreamLogHandler.standardError(label: name)
                handler.logLevel = level
                return handler
            }
            let report = try await readable {
                try await TunnelDemo.run(bytes: megabytes << 20, logger: Logger(label: "ambit.demo"))
            }
            print(TunnelDemoReportText.render(report))
            guard report.digestMatches, report.clientAsSeenByServer == report.clientIdentity,
                report.serverAsSeenByClient == report.serverIdentity
            else { throw ExitCode.failure }
        }
    }
}
