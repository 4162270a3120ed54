import AmbitCore
import AmbitTunnel
import ArgumentParser

struct Tunnel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one end of an HBONE tunnel with certificates from files.",
        subcommands: [Server.self, Client.self])

    struct CredentialOptions: ParsableArguments {
        @Option(help: "PEM certificate chain, leaf first (its URI SAN is this end's identity).")
        var cert: String
        @Option(help: "PEM private key (ECDSA P-256).")
        var key: String
        @Option(help: "PEM file with the mesh root certificate(s).")
        var trustBundle: String
        @Option(help: "The mesh trust domain.")
        var trustDomain = "cluster.local"

        var credentials: StandaloneTunnel.Credentials {
            .init(certificateFile: cert, keyFile: key, trustBundleFile: trustBundle, trustDomain: trustDomain)
        }
    }

    struct Server: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve HBONE (mTLS + HTTP/2 CONNECT) and dial allowed destinations.")

        @Option(help: "Address to listen on.")
        var listen = HostPort(host: "127.0.0.1", port: 15008)
        @Option(help: "A destination HOST:PORT the server may dial (repeat). Without any, every IP destination is allowed.")
        var allowDestination: [HostPort] = []
        @Option(help: "Event-loop threads.")
        var threads = 1
        @OptionGroup var credentials: CredentialOptions
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let logger = logging.bootstrap(label: "ambit.tunnel.server")
            try await readable {
                try await StandaloneTunnel.runServer(
                    listen: listen, credentials: credentials.credentials,
                    allowedDestinations: allowDestination.isEmpty ? nil : Set(allowDestination), threads: threads,
                    logger: logger)
            }
        }
    }

    struct Client: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accept plain TCP and carry each connection through HBONE.")

        @Option(help: "Address to listen on for plain TCP.")
        var listen = HostPort(host: "127.0.0.1", port: 15001)
        @Option(help: "The HBONE server, HOST:PORT.")
        var server: HostPort
        @Option(help: "The identity the HBONE server must prove.")
        var serverId: String
        @Option(help: "The destination to ask the server for (the CONNECT :authority).")
        var target: HostPort
        @Option(help: "Event-loop threads.")
        var threads = 1
        @OptionGroup var credentials: CredentialOptions
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            let serverIdentity = try spiffeID(serverId, option: "--server-id")
            let logger = logging.bootstrap(label: "ambit.tunnel.client")
            try await readable {
                try await StandaloneTunnel.runClient(
                    listen: listen, server: server, serverIdentity: serverIdentity, target: target,
                    credentials: credentials.credentials, threads: threads, logger: logger)
            }
        }
    }
}
