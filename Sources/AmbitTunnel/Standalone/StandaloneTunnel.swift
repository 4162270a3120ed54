import AmbitCore
import AmbitIdentity
import Logging
import NIOCore
import NIOPosix

/// The two ends of a tunnel as standalone processes, with certificates from files:
/// `ambit tunnel server` and `ambit tunnel client`. Useful by hand, for the benchmark, and
/// as the smallest working example of the library.
public enum StandaloneTunnel {
    public struct Credentials: Sendable {
        public var certificateFile: String
        public var keyFile: String
        public var trustBundleFile: String
        public var trustDomain: String

        public init(certificateFile: String, keyFile: String, trustBundleFile: String, trustDomain: String) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.trustBundleFile = trustBundleFile
            self.trustDomain = trustDomain
        }

        /// Loads the certificate once to learn its identity, then serves it from the files
        /// (re-read at each renewal, so a rotated file is picked up without a restart).
        func tlsFactory(logger: Logger) async throws -> (TLSContextFactory, SpiffeID) {
            let cert = try WorkloadCertificate.load(certificateFile: certificateFile, keyFile: keyFile)
            let bundle = try TrustBundle(trustDomain: trustDomain, pemFile: trustBundleFile)
            let manager = CertificateManager(
                provider: FileCertificateProvider(files: [cert.identity: (certificateFile, keyFile)]), logger: logger)
            return (await TLSContextFactory(certificates: manager, trustBundle: bundle, logger: logger), cert.identity)
        }
    }

    /// Serves HBONE until SIGTERM/SIGINT. Only `allowedDestinations` are dialled (401
    /// otherwise); `nil` allows any IP destination.
    public static func runServer(
        listen: HostPort, credentials: Credentials, allowedDestinations: Set<HostPort>?, threads: Int,
        logger: Logger = Logger(label: "ambit.tunnel.server")
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let (tls, identity) = try await credentials.tlsFactory(logger: logger)
        let server = try await HBONEServer.bind(
            .init(address: try SocketAddress(ipAddress: listen.host, port: listen.port), identity: identity),
            group: group, tls: tls, logger: logger,
            onRecord: { record in
                logger.info(
                    "stream closed",
                    metadata: [
                        "peer": "\(record.peer.map { "\($0)" } ?? "-")",
                        "authority": "\(record.request.map { "\($0.authority)" } ?? "-")",
                        "outcome": "\(record.outcome)", "bytes_to_destination": "\(record.bytesToDestination)",
                        "bytes_from_destination": "\(record.bytesFromDestination)",
                        "duration_s": "\(record.durationSeconds)",
                    ])
            },
            decide: { request in
                if let allowedDestinations, !allowedDestinations.contains(request.authority) {
                    return .deny(reason: "\(request.authority) is not in --allow-destination")
                }
                guard let address = try? SocketAddress(ipAddress: request.authority.host, port: request.authority.port) else {
                    return .unavailable(reason: "\(request.authority.host) is not an IP address")
                }
                return .forward(to: address)
            })
        print("ambit tunnel server: listening on \(listen) as \(identity)")
        let signal = await TerminationSignal.wait()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        try? await server.close()
        try? await group.shutdownGracefully()
    }

    /// Listens for plain TCP and carries each connection to `target` through the HBONE
    /// server, until SIGTERM/SIGINT.
    public static func runClient(
        listen: HostPort, server: HostPort, serverIdentity: SpiffeID, target: HostPort, credentials: Credentials,
        threads: Int, logger: Logger = Logger(label: "ambit.tunnel.client")
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let (tls, identity) = try await credentials.tlsFactory(logger: logger)
        _ = try await tls.clientContext(for: identity)  // fail now if the certificate is unusable
        let client = HBONEClient(group: group, tls: tls, logger: logger)
        let forwarder = try await TunnelForwarder.bind(
            .init(
                listen: try SocketAddress(ipAddress: listen.host, port: listen.port), source: identity,
                server: try SocketAddress(ipAddress: server.host, port: server.port), serverIdentities: [serverIdentity],
                target: target),
            group: group, client: client, logger: logger)
        print("ambit tunnel client: \(listen) -> HBONE \(server) (\(serverIdentity)) -> \(target), as \(identity)")
        let signal = await TerminationSignal.wait()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        try? await forwarder.close()
        client.shutdown()
        try? await group.shutdownGracefully()
    }
}
