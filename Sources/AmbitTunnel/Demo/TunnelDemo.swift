import AmbitCore
import AmbitIdentity
import Crypto
import Dispatch
import FoundationEssentials
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `ambit demo tunnel`: two workloads with different SPIFFE identities talk through HBONE
/// in one process, with a real CA, real TLS 1.3 and real sockets on loopback.
///
///     app ──TCP──▶ forwarder (as …/sa/client) ══HBONE/mTLS══▶ HBONE server (as …/sa/server) ──TCP──▶ sink
///
/// The sink hashes what it receives; the demo checks the hash, so "bytes moved" means
/// "bytes moved intact".
public enum TunnelDemo {
    public struct Report: Sendable {
        public let caDirectory: String
        public let clientIdentity: SpiffeID
        public let serverIdentity: SpiffeID
        /// Who the server's TLS verified the client to be.
        public let clientAsSeenByServer: SpiffeID?
        /// Who the client's TLS verified the server to be.
        public let serverAsSeenByClient: SpiffeID?
        public let bytes: Int
        public let seconds: Double
        public let digestMatches: Bool
        public let serverAddress: String

        public var throughputMiBps: Double { Double(bytes) / 1_048_576 / max(seconds, 1e-9) }
    }

    public static func run(bytes: Int, trustDomain: String = "cluster.local", logger: Logger) async throws -> Report {
        let directory = FileManager.default.temporaryDirectory.path + "/ambit-demo-\(UUID().uuidString.prefix(8))"
        let ca = try CertificateAuthority.loadOrCreate(directory: directory + "/ca", trustDomain: trustDomain)
        let clientID = try SpiffeID(trustDomain: trustDomain, namespace: "demo", serviceAccount: "client")
        let serverID = try SpiffeID(trustDomain: trustDomain, namespace: "demo", serviceAccount: "server")

        // Two separate identity stacks, as two nodes would have: each asks the CA for its
        // own certificate through a CSR and trusts only the mesh root.
        func stack() async -> TLSContextFactory {
            let manager = CertificateManager(provider: LocalCAProvider(ca: ca), logger: logger)
            return await TLSContextFactory(certificates: manager, trustBundle: ca.trustBundle, logger: logger)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

        let sink = try await DemoSink.start(group: group)
        let seenByServer = NIOLockedValueBox<SpiffeID?>(nil)
        let server = try await HBONEServer.bind(
            .init(address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), identity: serverID),
            group: group, tls: await stack(), logger: logger,
            decide: { request in
                seenByServer.withLockedValue { $0 = request.peer }
                return request.authority.port == sink.port ? .forward(to: sink.address) : .deny(reason: "not the demo sink")
            })
        let client = HBONEClient(group: group, tls: await stack(), logger: logger)
        let seenByClient = NIOLockedValueBox<SpiffeID?>(nil)
        let forwarder = try await TunnelForwarder.bind(
            .init(
                listen: try SocketAddress(ipAddress: "127.0.0.1", port: 0), source: clientID,
                server: server.localAddress, serverIdentities: [serverID], target: HostPort(host: "127.0.0.1", port: sink.port)),
            group: group, client: client, logger: logger,
            onClose: { stats in seenByClient.withLockedValue { $0 = stats.peer } })

        let (reply, seconds, expected) = try await DemoSender.send(bytes: bytes, to: forwarder.localAddress, group: group)
        try await waitFor { seenByClient.withLockedValue { $0 } != nil }

        try? await forwarder.close()
        client.shutdown()
        try? await server.close()
        await sink.close()
        try? await group.shutdownGracefully()
        return Report(
            caDirectory: directory + "/ca", clientIdentity: clientID, serverIdentity: serverID,
            clientAsSeenByServer: seenByServer.withLockedValue { $0 },
            serverAsSeenByClient: seenByClient.withLockedValue { $0 },
            bytes: bytes, seconds: seconds, digestMatches: reply == "\(bytes) \(expected)",
            serverAddress: "127.0.0.1:\(server.localAddress.port!)")
    }

    private static func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<200 where !condition() { try await Task.sleep(nanoseconds: 10_000_000) }
    }
}

// MARK: - The demo's two applications

/// Receives bytes, hashes them, and on end-of-input answers "<count> <sha256>".
private final class DemoSink: Sendable {
    let channel: Channel
    var address: SocketAddress { channel.localAddress! }
    var port: Int { channel.localAddress!.port! }

    private init(channel: Channel) { self.channel = channel }

    static func start(group: any EventLoopGroup) async throws -> DemoSink {
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(Handler()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DemoSink(channel: channel)
    }

    func close() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        var hasher = SHA256()
        var count = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            count += bytes.readableBytes
            bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard case ChannelEvent.inputClosed = event else { return }
            let digest = hexString(hasher.finalize())
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\(count) \(digest)"))).assumeIsolated()
                .whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// Connects, sends `bytes` of pseudo-random data as fast as the tunnel takes it (respecting
/// writability, like any well-behaved client), half-closes, and reads the sink's answer.
private enum DemoSender {
    static func send(bytes: Int, to address: SocketAddress, group: any EventLoopGroup) async throws -> (String, Double, String) {
        var block = ByteBuffer()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<(1 << 17) { block.writeInteger(generator.next() as UInt64) }  // 1 MiB
        var hasher = SHA256()
        var remaining = bytes
        while remaining > 0 {
            let n = min(remaining, block.readableBytes)
            block.withUnsafeReadableBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            remaining -= n
        }
        let expected = hexString(hasher.finalize())
        let done = group.any().makePromise(of: String.self)
        let start = DispatchTime.now().uptimeNanoseconds
        let chunk = block
        _ = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Writer(total: bytes, chunk: chunk, done: done))
                }
            }
            .connect(to: address).get()
        let reply = try await done.futureResult.get()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (reply, seconds, expected)
    }

    final class Writer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let total: Int
        let chunk: ByteBuffer
        var sent = 0
        var reply = ""
        let done: EventLoopPromise<String>

        init(total: Int, chunk: ByteBuffer, done: EventLoopPromise<String>) {
            self.total = total
            self.chunk = chunk
            self.done = done
        }

        func channelActive(context: ChannelHandlerContext) { pump(context: context) }
        func channelWritabilityChanged(context: ChannelHandlerContext) { pump(context: context) }

        func pump(context: ChannelHandlerContext) {
            guard sent < total else { return }
            while context.channel.isWritable, sent < total {
                let n = min(chunk.readableBytes, total - sent)
                context.write(wrapOutboundOut(chunk.getSlice(at: chunk.readerIndex, length: n)!), promise: nil)
                sent += n
            }
            context.flush()
            if sent >= total { context.close(mode: .output, promise: nil) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            reply += String(buffer: unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) { done.succeed(reply) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            done.fail(error)
            context.close(promise: nil)
        }
    }
}
