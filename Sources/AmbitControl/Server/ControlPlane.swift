import AmbitAPI
import AmbitCore
import AmbitIdentity
import FoundationEssentials
import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Logging
import X509

/// `ambit control`: everything started from one data directory.
///
/// ```
/// <data>/store/            the resource store (write-ahead log + snapshots)
/// <data>/ca/               the mesh CA (ca-cert.pem, ca-key.pem, root-cert.pem; Istio's names)
/// <data>/join-tokens       digests of outstanding join tokens
/// <data>/admin.ambitconfig the CLI's credentials (admin identity), written at first start
/// ```
///
/// Two gRPC listeners: 15012 with mutual TLS (config push, workload certificates, admin
/// API; every caller proves a mesh identity), and 15013 with server-only TLS for `Join`,
/// which a new node calls before it has any certificate.
public final class ControlPlane: Sendable {
    public struct Configuration: Sendable {
        public var dataDirectory: String
        public var trustDomain = "cluster.local"
        public var listen = HostPort(host: "0.0.0.0", port: 15012)
        /// The join listener; port 0 with `listen.port` 0 picks a free one (tests).
        public var joinListen = HostPort(host: "0.0.0.0", port: 15013)
        /// The address the CLI credentials point at.
        public var advertise = HostPort(host: "127.0.0.1", port: 15012)
        /// Lifetime of the certificates this process issues to itself and the admin. Its
        /// own is renewed at half life while it runs; the admin's at start when past half life.
        public var serviceCertificateTTL: Double = 7 * 24 * 3600
        /// The clock certificates are issued and renewed by (injected in tests).
        public var clock: any WallClock = SystemWallClock()

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    public let configuration: Configuration
    public let registry: Registry
    public let push: PushRegistry
    public let certificates: CertificateService
    public let identities: ControlIdentities
    /// The certificate both listeners present, renewed at half life by `run()`.
    public let serving: ServingCertificate
    private let store: FileStore
    private let mainServer: GRPCServer<HTTP2ServerTransport.Posix>
    private let joinServer: GRPCServer<HTTP2ServerTransport.Posix>
    private let logger: Logger

    /// Where the CLI credentials are.
    public var adminConfigPath: String { configuration.dataDirectory + "/admin.ambitconfig" }

    public static func start(_ configuration: Configuration, logger: Logger = Logger(label: "ambit.control")) async throws -> ControlPlane {
        let dir = configuration.dataDirectory
        try Self.makeDirectory(dir)
        let store = try FileStore(directory: dir + "/store")
        let ca: CertificateAuthority
        do {
            ca = try CertificateAuthority.loadOrCreate(
                directory: dir + "/ca", trustDomain: configuration.trustDomain,
                options: { var o = CertificateAuthority.Options(); o.maximumTTL = max(o.maximumTTL, configuration.serviceCertificateTTL); return o }(),
                clock: configuration.clock)
        } catch {
            store.close()
            throw error
        }
        let registry = try Registry(store: store)
        let tokens = try JoinTokens(path: dir + "/join-tokens")
        let certificates = CertificateService(ca: ca, tokens: tokens, workloadIdentities: { node in
            NodeScope.identities(on: node, in: registry.snapshot)
        }, logger: logger)
        let identities = certificates.identities
        let serving = try await ServingCertificate(
            identity: identities.control, ca: ca, ttl: configuration.serviceCertificateTTL, clock: configuration.clock, logger: logger)
        let verifier = SpiffeVerifier(trustBundle: ca.trustBundle, clock: configuration.clock)
        let push = PushRegistry()
        let main = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: configuration.listen.host, port: configuration.listen.port),
                transportSecurity: try ControlPlaneTLS.server(serving: serving, verifier: verifier)),
            services: [
                ConfigDiscoveryService(provider: RegistryConfigProvider(registry: registry, identities: identities), registry: push, logger: logger),
                CertificatesService(certificates: certificates, logger: logger),
                AdminService(
                    registry: registry, push: push, admin: identities.admin, certificates: certificates, serving: serving,
                    clock: configuration.clock),
            ])
        let join = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: configuration.joinListen.host, port: configuration.joinListen.port),
                transportSecurity: try ControlPlaneTLS.joinServer(serving: serving)),
            services: [CertificatesService(certificates: certificates, logger: logger)])
        let plane = ControlPlane(
            configuration: configuration, registry: registry, push: push, certificates: certificates, identities: identities,
            serving: serving, store: store, mainServer: main, joinServer: join, logger: logger)
        try await plane.writeAdminConfigIfDue(ca: ca)
        return plane
    }

    private init(
        configuration: Configuration, registry: Registry, push: PushRegistry, certificates: CertificateService,
        identities: ControlIdentities, serving: ServingCertificate, store: FileStore, mainServer: GRPCServer<HTTP2ServerTransport.Posix>,
        joinServer: GRPCServer<HTTP2ServerTransport.Posix>, logger: Logger
    ) {
        self.configuration = configuration
        self.registry = registry
        self.push = push
        self.certificates = certificates
        self.identities = identities
        self.serving = serving
        self.store = store
        self.mainServer = mainServer
        self.joinServer = joinServer
        self.logger = logger
    }

    /// Serves until the task is cancelled, then stops: listeners first, then the open
    /// streams (push streams never end by themselves).
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.mainServer.serve() }
            group.addTask { try await self.joinServer.serve() }
            group.addTask { await self.serving.maintain() }
            group.addTask {
                // Wait for cancellation, then stop gracefully before the servers are cancelled.
                while !Task.isCancelled { try? await Task.sleep(nanoseconds: 100_000_000) }
                self.mainServer.beginGracefulShutdown()
                self.joinServer.beginGracefulShutdown()
            }
            try await group.next()
            group.cancelAll()
        }
        store.close()
    }

    /// The ports actually bound (main, join): useful with port 0.
    public func boundPorts() async throws -> (main: Int, join: Int) {
        guard let main = try await mainServer.listeningAddress?.ipv4?.port,
            let join = try await joinServer.listeningAddress?.ipv4?.port
        else { throw ControlError(.unavailable, "the control plane's listeners are not bound") }
        return (main, join)
    }

    // MARK: - Credentials

    /// The CLI's credentials: the admin identity, the trust bundle and the address. Written
    /// at first start, and again at a start that finds its certificate past half life (a
    /// CLI credential that silently expires would lock the operator out); delete the file
    /// to have a new one made at the next start.
    private func writeAdminConfigIfDue(ca: CertificateAuthority) async throws {
        let path = adminConfigPath
        if access(path, F_OK) == 0 {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8), let existing = try? ClientConfig(parsing: text, file: path),
                let end = existing.certificatePEM.range(of: "-----END CERTIFICATE-----"),
                let leaf = try? Certificate(pemEncoded: String(existing.certificatePEM[..<end.upperBound]))
            else { return }  // not ours to overwrite: someone edited it
            let notBefore = leaf.notValidBefore.timeIntervalSince1970
            let notAfter = leaf.notValidAfter.timeIntervalSince1970
            if RotationPolicy().refreshTime(notBefore: notBefore, notAfter: notAfter) > configuration.clock.now() { return }
            logger.info("the admin credentials are past half their lifetime; writing new ones", metadata: ["path": "\(path)"])
        }
        let admin = try await ServingCertificate.issue(identities.admin, ca: ca, ttl: configuration.serviceCertificateTTL)
        let config = ClientConfig(
            server: configuration.advertise, trustDomain: configuration.trustDomain, caPEM: try ca.trustBundle.pemString(),
            certificatePEM: try admin.chainPEM(), keyPEM: admin.privateKeyPEM)
        try AtomicFile.write(config.text, to: path, mode: 0o600)
        logger.info("wrote the admin credentials", metadata: ["path": "\(path)"])
    }

    static func makeDirectory(_ path: String) throws {
        // A relative data directory stays relative to where `ambit control` was started.
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw ControlError(.storage, "cannot create \(current): \(String(cString: strerror(errno)))")
            }
        }
    }
}

extension ControlPlane {
    /// `ambit control`: starts, prints where things are, serves until SIGTERM/SIGINT.
    public static func runUntilSignalled(_ configuration: Configuration, logger: Logger) async throws {
        let plane = try await ControlPlane.start(configuration, logger: logger)
        let running = Task { try await plane.run() }
        let ports = try await plane.boundPorts()
        print("ambit control: data \(configuration.dataDirectory); mTLS :\(ports.main), join :\(ports.join); CLI credentials \(plane.adminConfigPath)")
        let signal = await TerminationSignal.wait()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        running.cancel()
        _ = await running.result
    }
}
