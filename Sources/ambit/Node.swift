import AmbitCore
import AmbitNode
import AmbitTelemetry
import ArgumentParser
import Glibc

struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node daemon: enrol this node's pods into the mesh and carry their traffic.",
        discussion: "Reads workloads, services and policies from --config (YAML or JSON; see docs/node.md) and re-reads it when it changes. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).")

    @Option(help: "The mesh config file to read and watch.")
    var config: String
    @Option(help: "This node's name; pods with this spec.node are served here. Default: the host name.")
    var node: String?
    @Option(help: "Where the daemon records which pods it enrolled (for reconciliation after a restart).")
    var stateDir = "/var/run/ambit/node"
    @Option(help: "Prometheus metrics address (/metrics).")
    var metrics = HostPort(host: "0.0.0.0", port: 15020)
    @Option(help: "Readiness address (/healthz/ready).")
    var readiness = HostPort(host: "0.0.0.0", port: 15021)
    @Option(help: "Admin address (/config_dump, /certs, /connections); keep it on localhost.")
    var admin = HostPort(host: "127.0.0.1", port: 15000)
    @Option(help: "Seconds open connections get to finish on shutdown or un-enrolment.")
    var drainSeconds = 5.0
    @Option(help: "Access log format: text or json.")
    var accessLog = "text"
    @Option(help: "Event-loop threads.")
    var threads = 2
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = logging.bootstrap(label: "ambit.node")
        guard let format = AccessLogFormat(rawValue: accessLog) else {
            throw ValidationError("--access-log must be text or json, got '\(accessLog)'")
        }
        var configuration = NodeDaemon.Configuration(nodeName: node ?? Self.hostName())
        configuration.stateDirectory = stateDir
        configuration.metricsAddress = metrics
        configuration.readinessAddress = readiness
        configuration.adminAddress = admin
        configuration.drainSeconds = drainSeconds
        configuration.accessLogFormat = format
        try await readable {
            try await NodeDaemon.runFromFile(configPath: config, configuration: configuration, threads: threads, logger: logger)
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }
}
