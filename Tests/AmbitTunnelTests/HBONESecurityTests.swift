import AmbitCore
import AmbitIdentity
import AmbitTesting
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Testing

@testable import AmbitTunnel

/// Who may talk to whom: the handshakes the tunnel must refuse, and the peers that must
/// not hurt anyone else.
@Suite(.timeLimit(.minutes(3)))
struct HBONESecurityTests {
    // MARK: - The server refuses clients

    @Test(arguments: ClientFlaw.allCases)
    func serverRefusesAClientWhoseCertificateIs(_ flaw: ClientFlaw) async throws {
        let pki = try TestPKI()
        let clientID = pki.id("client-ns", "client")
        let now = pki.clock.now()
        let cert: WorkloadCertificate
        switch flaw {
        case .expired:
            cert = try pki.workloadCertificate(for: clientID, notBefore: now - 7200, notAfter: now - 3600)
        case .notYetValid:
            cert = try pki.workloadCertificate(for: clientID, notBefore: now + 3600, notAfter: now + 7200)
        case .fromAnotherCA:
            cert = try TestPKI().workloadCertificate(for: clientID)
        case .fromAnotherTrustDomain:
            cert = try pki.workloadCertificate(for: clientID, uri: "spiffe://evil.example/ns/client-ns/sa/client")
        }
        // The client trusts everything here, so only the server's check can stop it.
        let clientTLS = await pki.tlsFactory(presenting: [cert])
        let mesh = try await TunnelHarness(pki: pki, clientTLS: clientTLS)
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: .loopback(9)) } catch let error as TunnelError {
                #expect(error.code == .tlsFailed || error.code == .protocolError, "\(error)")
                throw error
            }
        }
        #expect(mesh.records.isEmpty, "no stream may reach the decision without a verified peer")
        await mesh.shutdown()
    }

    enum ClientFlaw: String, CaseIterable, Sendable {
        case expired, notYetValid, fromAnotherCA, fromAnotherTrustDomain
    }

    @Test func serverRefusesAClientWithoutCertificate() async throws {
        let mesh = try await TunnelHarness()
        var config = TLSConfiguration.makeClientConfiguration()
        config.minimumTLSVersion = .tlsv13
        config.trustRoots = .certificates(try mesh.pki.trustBundle.roots.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) })
        config.certificateVerification = .none
        config.applicationProtocols = ["h2"]
        let outcome = try await RawTLSClient.connect(to: mesh.server.localAddress, config: config, group: mesh.group)
        #expect(!outcome.stayedOpen, "a client without a certificate must not get a usable connection")
        await mesh.shutdown()
    }

    // MARK: - The client refuses servers

    @Test func clientRefusesAServerItDoesNotExpect() async throws {
        let mesh = try await TunnelHarness()
        let impostorCheck = mesh.pki.id("payments", "ledger")
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: .loopback(9), expecting: [impostorCheck]) } catch let error as TunnelError {
                #expect(error.code == .tlsFailed)
                #expect(error.message.contains("expected to be one of"), "\(error)")
                #expect(error.message.contains(impostorCheck.uri), "\(error)")
                throw error
            }
        }
        #expect(mesh.records.isEmpty)
        await mesh.shutdown()
    }

    @Test func clientRefusesAnExpiredServerCertificateAndSaysSo() async throws {
        let pki = try TestPKI()
        let serverID = pki.id("server-ns", "server")
        let now = pki.clock.now()
        let expired = try pki.workloadCertificate(for: serverID, notBefore: now - 7200, notAfter: now - 60)
        let mesh = try await TunnelHarness(pki: pki, serverTLS: await pki.tlsFactory(presenting: [expired]))
        await #expect(throws: TunnelError.self) {
            do { _ = try await mesh.open(authority: .loopback(9)) } catch let error as TunnelError {
                #expect(error.code == .tlsFailed)
                #expect(error.message.contains("expired"), "\(error)")
                throw error
            }
        }
        await mesh.shutdown()
    }

    // MARK: - Bad peers hurt only themselves

    @Test func plaintextToTheHBONEPortIsClosedAndOthersAreServed() async throws {
        let mesh = try await TunnelHarness()
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        let hbonePort = mesh.server.localAddress.port!
        let answer = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: hbonePort, receiveTimeoutSeconds: 10)
            try socket.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            return try socket.readToEnd()
        }
        #expect(!String(decoding: answer, as: UTF8.self).contains("HTTP/1.1 200"))
        try await expectTunnelWorks(mesh, app: app)
        await app.close()
        await mesh.shutdown()
    }

    @Test func http11OverTLSIsClosedAfterTheHandshake() async throws {
        let mesh = try await TunnelHarness()
        let config = try clientConfig(mesh, alpn: ["http/1.1"])
        let outcome = try await RawTLSClient.connect(to: mesh.server.localAddress, config: config, group: mesh.group)
        #expect(outcome.handshakeCompleted, "the certificate is valid, so the handshake itself succeeds")
        #expect(outcome.negotiatedProtocol == nil)
        #expect(!outcome.stayedOpen, "without ALPN h2 the server must close the connection")
        await mesh.shutdown()
    }

    @Test func garbageAfterThePrefaceClosesThatConnectionOnly() async throws {
        let mesh = try await TunnelHarness()
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))
        // A tunnel that is open before, during and after the bad connection.
        let longLived = try await BlockingSocket.run { try BlockingSocket(connectTo: forwarder.localAddress.port!) }
        try await BlockingSocket.run { try longLived.send("before;") }

        let config = try clientConfig(mesh, alpn: ["h2"])
        var garbage = ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        garbage.writeBytes([0x00, 0x00, 0x04, 0xff, 0xee, 0x00, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef])
        garbage.writeString(String(repeating: "not a frame ", count: 100))
        let outcome = try await RawTLSClient.connect(
            to: mesh.server.localAddress, config: config, group: mesh.group, send: garbage)
        #expect(outcome.handshakeCompleted)
        #expect(!outcome.stayedOpen, "the server must close a connection that sends garbage")

        let echoed = try await BlockingSocket.run {
            try longLived.send("after")
            longLived.shutdownWrite()
            return String(decoding: try longLived.readToEnd(), as: UTF8.self)
        }
        #expect(echoed == "before;after")
        try await expectTunnelWorks(mesh, app: app)
        await app.close()
        await mesh.shutdown()
    }

    // MARK: - Rotation

    @Test func rotatingTheServerCertificateKeepsOpenTunnels() async throws {
        let mesh = try await TunnelHarness()
        let app = try await TestTCPServer.start(.echo, group: mesh.group)
        let forwarder = try await mesh.forwarder(to: .loopback(app.port))
        let open = try await BlockingSocket.run { try BlockingSocket(connectTo: forwarder.localAddress.port!) }
        let first = try await BlockingSocket.run {
            try open.send("one")
            return String(decoding: try open.read(exactly: 3), as: UTF8.self)
        }
        #expect(first == "one")
        let serialBefore = await mesh.serverTLS.certificates.status().first?.serial

        // Drop the certificate: the cached context goes, the next connection gets a new one.
        await mesh.serverTLS.certificates.forget(mesh.serverID)
        #expect(mesh.serverTLS.cachedServerContext(for: mesh.serverID) == nil)
        let freshClient = HBONEClient(group: mesh.group, tls: mesh.clientTLS)
        let stream = try await freshClient.open(
            from: mesh.clientID, to: mesh.server.localAddress, expecting: [mesh.serverID],
            head: ConnectHead(authority: .loopback(app.port)), on: mesh.group.any()
        ).get()
        #expect(stream.peer == mesh.serverID)
        let serialAfter = await mesh.serverTLS.certificates.status().first?.serial
        #expect(serialAfter != nil && serialAfter != serialBefore, "a new certificate was issued")
        try? await stream.channel.close()
        freshClient.shutdown()

        // The tunnel opened under the old certificate still works.
        let second = try await BlockingSocket.run {
            try open.send("two")
            open.shutdownWrite()
            return String(decoding: try open.readToEnd(), as: UTF8.self)
        }
        #expect(second == "two")
        await app.close()
        await mesh.shutdown()
    }
}

// MARK: - Helpers

func expectTunnelWorks(_ mesh: TunnelHarness, app: TestTCPServer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let forwarder = try await mesh.forwarder(to: .loopback(app.port))
    let reply = try await BlockingSocket.run {
        let socket = try BlockingSocket(connectTo: forwarder.localAddress.port!)
        try socket.send("still serving")
        socket.shutdownWrite()
        return String(decoding: try socket.readToEnd(), as: UTF8.self)
    }
    #expect(reply == "still serving", sourceLocation: sourceLocation)
    try await forwarder.close()
}

/// A TLS client configuration with a valid client certificate and the given ALPN list.
func clientConfig(_ mesh: TunnelHarness, alpn: [String]) throws -> TLSConfiguration {
    let cert = try mesh.pki.workloadCertificate(for: mesh.clientID)
    var config = TLSConfiguration.makeClientConfiguration()
    config.minimumTLSVersion = .tlsv13
    config.certificateChain = try cert.chain.map { .certificate(try NIOSSLCertificate(bytes: $0.derBytes, format: .der)) }
    config.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(cert.privateKey.derRepresentation), format: .der))
    config.trustRoots = .certificates(try mesh.pki.trustBundle.roots.map { try NIOSSLCertificate(bytes: $0.derBytes, format: .der) })
    config.certificateVerification = .none
    config.applicationProtocols = alpn
    return config
}

/// A bare TLS client that reports what the server did with it.
enum RawTLSClient {
    struct Outcome {
        var handshakeCompleted = false
        var negotiatedProtocol: String?
        var stayedOpen = false
    }

    static func connect(
        to address: SocketAddress, config: TLSConfiguration, group: any EventLoopGroup, send: ByteBuffer? = nil
    ) async throws -> Outcome {
        let context = try NIOSSLContext(configuration: config)
        let observed = group.any().makePromise(of: (Bool, String?).self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(HandshakeObserver(promise: observed))
                }
            }
            .connect(to: address).get()
        var outcome = Outcome()
        if let (completed, proto) = try? await observed.futureResult.get() {
            outcome.handshakeCompleted = completed
            outcome.negotiatedProtocol = proto
        }
        if let send, channel.isActive {
            try? await channel.writeAndFlush(send)
        }
        // Give the server a moment to act, then see whether the connection is still there.
        try await Task.sleep(nanoseconds: 500_000_000)
        outcome.stayedOpen = channel.isActive
        try? await channel.close()
        return outcome
    }

    final class HandshakeObserver: ChannelInboundHandler {
        typealias InboundIn = NIOAny
        private var promise: EventLoopPromise<(Bool, String?)>?
        init(promise: EventLoopPromise<(Bool, String?)>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted(let proto) = event {
                promise?.succeed((true, proto))
                promise = nil
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise?.succeed((false, nil))
            promise = nil
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise?.succeed((false, nil))
            promise = nil
            context.fireChannelInactive()
        }
    }
}

import X509
import SwiftASN1

extension Certificate {
    var derBytes: [UInt8] {
        var serializer = DER.Serializer()
        try! serializer.serialize(self)
        return serializer.serializedBytes
    }
}
