import AmbitCore
import AmbitNode
import AmbitTelemetry
import ArgumentParser
import Foundation
import Glibc

struct Node: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node daemon: enrol this node's pods into the mesh and carry their traffic.",
        discussion: """
            Learns workloads, services and policies from exactly one of:
              --config FILE        a mesh file (YAML or JSON; see docs/node.md), re-read when it changes; certificates from the CA it names;
              --control HOST:PORT  a control plane (`ambit control`): config pushed over mutual TLS, certificates from its CA.
            With --control, the first start joins the mesh: --join TOKEN (from `ambit control token create --node NAME`) and --trust-bundle FILE (the mesh root, to check the control plane). The node's identity is then kept in --state-dir and later starts need neither.
            Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
            """)

    @Option(help: "The mesh config file to read and watch (instead of --control).")
    var config: String?
    @Option(help: "The control plane's address, HOST:PORT (port 15012), instead of --config.")
    var control: HostPort?
    @Option(help: "A one-time join token for this node's first start with --control.")
    var join: String?
    @Option(help: "A file holding the join token (what the systemd unit uses); read only when the node has not joined yet.")
    var joinFile: String?
    @Option(help: "The mesh root certificate(s), PEM: who the control plane must prove to be when joining.")
    var trustBundle: String?
    @Option(help: "The mesh's trust domain (with --control).")
    var trustDomain = "cluster.local"
    @Option(help: "The control plane's join port (with --control). Default: the control port + 1.")
    var joinPort: Int?
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

    /// The token in a file, trimmed; nil when the file is missing or empty (a node that
    /// already joined needs none, so the file may be gone).
    static func readToken(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }

    func validate() throws {
        try validateConfigSource(
            config: config, control: control, join: join, joinFile: joinFile, trustBundle: trustBundle, what: "the mesh config", why: ": a node follows one source of config")
    }

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
        switch (config, control) {
        case (let path?, _):
            try await readable {
                try await NodeDaemon.runFromFile(configPath: path, configuration: configuration, threads: threads, logger: logger)
            }
        case (nil, let control?):
            var bootstrap = NodeBootstrap.Configuration(
                nodeName: configuration.nodeName, trustDomain: trustDomain, control: control, stateDirectory: stateDir)
            if let joinPort { bootstrap.joinPort = joinPort }
            bootstrap.joinToken = join ?? joinFile.flatMap(Self.readToken)
            bootstrap.trustBundleFile = trustBundle
            try await readable {
                try await NodeDaemon.runWithControlPlane(bootstrap: bootstrap, configuration: configuration, threads: threads, logger: logger)
            }
        case (nil, nil):
            break  // refused by validate()
        }
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }
}
