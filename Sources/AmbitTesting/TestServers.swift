import Crypto
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Plain TCP servers that play the application behind a tunnel: on loopback (`start`), or
/// on a socket bound elsewhere, such as inside a pod's namespace (`serve(_:boundSocket:)`).
public final class TestTCPServer: Sendable {
    public enum Behaviour: Sendable {
        /// Writes back what it reads; shuts its output when the peer shuts its output.
        case echo
        /// Reads and hashes everything (SHA-256); when the peer shuts its output, writes
        /// "<byte count> <hex digest>\n" and closes.
        case sink
        /// Sends `bytes` then closes its output, while still reading what arrives.
        case banner(String)
    }

    /// What one sink connection received, recorded when its peer shut its output.
    public struct SinkResult: Sendable, Equatable, CustomStringConvertible {
        public let byteCount: Int
        /// Lower-case hex SHA-256 of the bytes, as `sha256Hex` computes it.
        public let sha256: String
        public var description: String { "\(byteCount) \(sha256)" }
    }

    /// Counters shared by the handlers of every accepted connection.
    struct Stats {
        var connections = 0
        var bytes = 0
        var sinkResults: [SinkResult] = []
    }

    private let channel: Channel
    private let readingEnabled: NIOLockedValueBox<Bool>
    private let children: NIOLockedValueBox<[Channel]>
    private let stats: NIOLockedValueBox<Stats>

    public var address: SocketAddress { channel.localAddress! }
    public var port: Int { channel.localAddress!.port! }
    public var connectionsAccepted: Int { stats.withLockedValue { $0.connections } }
    public var bytesReceived: Int { stats.withLockedValue { $0.bytes } }
    /// One entry per sink connection that finished (peer shut its output), in order.
    public var sinkResults: [SinkResult] { stats.withLockedValue { $0.sinkResults } }

    private init(channel: Channel, readingEnabled: NIOLockedValueBox<Bool>, children: NIOLockedValueBox<[Channel]>, stats: NIOLockedValueBox<Stats>) {
        self.channel = channel
        self.readingEnabled = readingEnabled
        self.children = children
        self.stats = stats
    }

    /// Starts a server on 127.0.0.1 (ephemeral port). With `paused`, accepted connections
    /// read nothing until `resumeReading()`: the stalled reader of backpressure tests.
    public static func start(_ behaviour: Behaviour, group: any EventLoopGroup, paused: Bool = false) async throws -> TestTCPServer {
        try await launch(behaviour, group: group, paused: paused) { $0.bind(host: "127.0.0.1", port: 0) }
    }

    /// Serves `behaviour` on a socket that is already bound and listening, such as one
    /// created inside a pod's network namespace (a socket keeps the namespace it was made
    /// in, so the server answers there). The server owns `boundSocket` from now on.
    public static func serve(
        _ behaviour: Behaviour, boundSocket: NIOBSDSocket.Handle, group: any EventLoopGroup, paused: Bool = false
    ) async throws -> TestTCPServer {
        try await launch(behaviour, group: group, paused: paused) { $0.withBoundSocket(boundSocket) }
    }

    /// The one place that wires behaviour, counters and pausing into a server channel;
    /// `bind` decides only where the listening socket comes from.
    private static func launch(
        _ behaviour: Behaviour, group: any EventLoopGroup, paused: Bool,
        bind: (ServerBootstrap) -> EventLoopFuture<Channel>
    ) async throws -> TestTCPServer {
        let readingEnabled = NIOLockedValueBox(!paused)
        let children = NIOLockedValueBox<[Channel]>([])
        let stats = NIOLockedValueBox(Stats())
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                stats.withLockedValue { $0.connections += 1 }
                children.withLockedValue { $0.append(child) }
                let reading = readingEnabled.withLockedValue { $0 }
                return child.setOption(ChannelOptions.autoRead, value: reading).flatMap {
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addHandler(AppHandler(behaviour: behaviour, stats: stats))
                    }
                }
            }
        let channel = try await bind(bootstrap).get()
        return TestTCPServer(channel: channel, readingEnabled: readingEnabled, children: children, stats: stats)
    }

    public func resumeReading() {
        readingEnabled.withLockedValue { $0 = true }
        for child in children.withLockedValue({ $0 }) {
            child.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
    }

    public func close() async {
        for child in children.withLockedValue({ $0 }) { try? await child.close() }
        try? await channel.close()
    }
}

private final class AppHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let behaviour: TestTCPServer.Behaviour
    private let stats: NIOLockedValueBox<TestTCPServer.Stats>
    private var hasher = SHA256()
    private var count = 0

    init(behaviour: TestTCPServer.Behaviour, stats: NIOLockedValueBox<TestTCPServer.Stats>) {
        self.behaviour = behaviour
        self.stats = stats
    }

    func channelActive(context: ChannelHandlerContext) {
        if case .banner(let text) = behaviour {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        count += bytes.readableBytes
        stats.withLockedValue { $0.bytes += bytes.readableBytes }
        switch behaviour {
        case .echo:
            context.write(data, promise: nil)
        case .sink:
            bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        case .banner:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case ChannelEvent.inputClosed = event else { return }
        switch behaviour {
        case .echo:
            context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
            }
        case .sink:
            let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            let result = TestTCPServer.SinkResult(byteCount: count, sha256: digest)
            stats.withLockedValue { $0.sinkResults.append(result) }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "\(count) \(digest)\n"))).assumeIsolated()
                .whenComplete { _ in context.close(promise: nil) }
        case .banner:
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

import Foundation
