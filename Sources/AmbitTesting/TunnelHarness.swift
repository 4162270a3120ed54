import AmbitCore
import AmbitIdentity
import AmbitTunnel
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An HBONE server and client in one process, with real TLS over loopback, so a tunnel
/// test reads as "start the harness, open a forwarder, send bytes, check what arrived".
public final class TunnelHarness: Sendable {
    public let group: MultiThreadedEventLoopGroup
    public let pki: TestPKI
    public let clientID: SpiffeID
    public let serverID: SpiffeID
    public let clientTLS: TLSContextFactory
    public let serverTLS: TLSContextFactory
    public let server: HBONEServer
    public let client: HBONEClient
    private let recordsBox: NIOLockedValueBox<[StreamRecord]>

    /// The streams the server has finished, in order.
    public var records: [StreamRecord] { recordsBox.withLockedValue { $0 } }

    /// Forwards every CONNECT to its `:authority`, which must be an IP address.
    public static let forwardToAuthority: HBONEServer.Decide = { request in
        guard let address = try? SocketAddress(ipAddress: request.authority.host, port: request.authority.port) else {
            return .unavailable(reason: "\(request.authority.host) is not an IP address")
        }
        return .forward(to: address)
    }

    public init(
        threads: Int = 2,
        pki: TestPKI? = nil,
        clientTLS: TLSContextFactory? = nil,
        serverTLS: TLSContextFactory? = nil,
        clientConfiguration: HBONEClient.Configuration = .init(),
        serverSettings: HBONESettings = .init(),
        decide: @escaping HBONEServer.Decide = TunnelHarness.forwardToAuthority
    ) async throws {
        let pki = try pki ?? TestPKI()
        self.pki = pki
        group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        clientID = pki.id("client-ns", "client")
        serverID = pki.id("server-ns", "server")
        let clientFactory: TLSContextFactory
        if let clientTLS { clientFactory = clientTLS } else { clientFactory = try await pki.tlsFactory() }
        let serverFactory: TLSContextFactory
        if let serverTLS { serverFactory = serverTLS } else { serverFactory = try await pki.tlsFactory() }
        self.clientTLS = clientFactory
        self.serverTLS = serverFactory
        let records = NIOLockedValueBox<[StreamRecord]>([])
        recordsBox = records
        var serverConfiguration = HBONEServer.Configuration(
            address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), identity: serverID)
        serverConfiguration.settings = serverSettings
        server = try await HBONEServer.bind(
            serverConfiguration,
            group: group, tls: serverFactory, onRecord: { record in records.withLockedValue { $0.append(record) } },
            decide: decide)
        client = HBONEClient(group: group, tls: clientFactory, configuration: clientConfiguration)
    }

    /// A local TCP port whose connections are tunnelled to `target` through the server.
    public func forwarder(to target: HostPort, expecting: Set<SpiffeID>? = nil) async throws -> TunnelForwarder {
        try await TunnelForwarder.bind(
            .init(
                listen: try SocketAddress(ipAddress: "127.0.0.1", port: 0), source: clientID,
                server: server.localAddress, serverIdentities: expecting ?? [serverID], target: target),
            group: group, client: client)
    }

    /// Opens one CONNECT directly (no forwarder), for tests of the response codes.
    public func open(authority: HostPort, expecting: Set<SpiffeID>? = nil) async throws -> HBONEStream {
        try await client.open(
            from: clientID, to: server.localAddress, expecting: expecting ?? [serverID],
            head: ConnectHead(authority: authority, sourceAddress: "127.0.0.1:1234"), on: group.any()
        ).get()
    }

    /// Waits until the server has recorded `count` streams.
    public func waitForRecords(_ count: Int, timeoutSeconds: Double = 10) async throws -> [StreamRecord] {
        try await waitUntil("the server has recorded \(count) stream(s)", timeoutSeconds: timeoutSeconds) {
            records.count >= count
        }
        return records
    }

    public func shutdown() async {
        client.shutdown()
        try? await server.close()
        try? await group.shutdownGracefully()
    }
}

extension HostPort {
    /// 127.0.0.1:`port`.
    public static func loopback(_ port: Int) -> HostPort { HostPort(host: "127.0.0.1", port: port) }
}
