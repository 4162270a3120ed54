import AmbitControl
import AmbitCore
import ArgumentParser
import Logging

struct Control: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the control plane, or manage its join tokens.",
        subcommands: [Serve.self, Token.self], defaultSubcommand: Serve.self)

    struct DataOptions: ParsableArguments {
        @Option(help: "The control plane's data directory (store, CA, tokens, admin credentials).")
        var dataDir = "/var/lib/ambit/control"
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve", abstract: "Run the control plane (the default when no subcommand is given).")

        @OptionGroup var data: DataOptions
        @Option(help: "The mesh trust domain (fixed at first start: the CA is made for it).")
        var trustDomain = "cluster.local"
        @Option(help: "The mTLS listener: config push, workload certificates, admin API.")
        var listen = HostPort(host: "0.0.0.0", port: 15012)
        @Option(help: "The join listener (server-only TLS; nodes join here before they have a certificate).")
        var joinListen = HostPort(host: "0.0.0.0", port: 15013)
        @Option(help: "The address written into the CLI credentials.")
        var advertise = HostPort(host: "127.0.0.1", port: 15012)
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap(label: "ambit.control")
            var configuration = ControlPlane.Configuration(dataDirectory: data.dataDir)
            configuration.trustDomain = trustDomain
            configuration.listen = listen
            configuration.joinListen = joinListen
            configuration.advertise = advertise
            try await readable { try await ControlPlane.runUntilSignalled(configuration, logger: logger) }
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Join tokens.", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a one-time token with which a node (or waypoint) gets its identity.")
            @OptionGroup var data: DataOptions
            @Option(help: "The node the token is for.")
            var node: String?
            @Option(help: "The waypoint the token is for, NAMESPACE/GATEWAY.")
            var waypoint: String?
            @Option(help: "Hours until the token expires.")
            var ttlHours = 24.0

            func run() async throws {
                let grant: JoinTokens.Grant
                switch (node, waypoint) {
                case (let node?, nil): grant = .node(name: node)
                case (nil, let waypoint?):
                    let parts = waypoint.split(separator: "/")
                    guard parts.count == 2 else { throw ValidationError("--waypoint must be NAMESPACE/GATEWAY, got '\(waypoint)'") }
                    grant = .waypoint(namespace: String(parts[0]), gateway: String(parts[1]))
                default: throw ValidationError("give exactly one of --node NAME and --waypoint NAMESPACE/GATEWAY")
                }
                let token = try await readable {
                    try JoinTokens(path: data.dataDir + "/join-tokens").create(grant, ttl: ttlHours * 3600)
                }
                print(token)
            }
        }
    }
}
