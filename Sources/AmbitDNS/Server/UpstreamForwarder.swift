import Logging
import NIOCore
import NIOPosix

/// Sends queries the mesh cannot answer to the pod's own resolvers.
///
/// Each attempt uses a fresh socket from the factory (so the node can create it inside the
/// pod's network namespace with a firewall mark, and each query gets its own source port)
/// and a random query ID, restored to the client's ID on the way back; an answer counts
/// only if it comes from the upstream asked, with that ID and QR set. Upstreams are tried
/// in turn, each for `perUpstream`, until `forward` has passed.
final class UpstreamForwarder: Sendable {
    let upstreams: [SocketAddress]
    private let udpSocketFactory: DNSServer.UDPSocketFactory
    private let tcpSocketFactory: DNSServer.TCPSocketFactory?
    private let timeouts: DNSServer.Timeouts
    private let group: any EventLoopGroup
    private let logger: Logger

    init(
        upstreams: [SocketAddress], udpSocketFactory: @escaping DNSServer.UDPSocketFactory,
        tcpSocketFactory: DNSServer.TCPSocketFactory?, timeouts: DNSServer.Timeouts, group: any EventLoopGroup,
        logger: Logger
    ) {
        self.upstreams = upstreams
        self.udpSocketFactory = udpSocketFactory
        self.tcpSocketFactory = tcpSocketFactory
        self.timeouts = timeouts
        self.group = group
        self.logger = logger
    }

    /// The upstream's answer to `query` carrying `query`'s ID, or nil when no upstream
    /// answered in time. With `allowTCPRetry` (the client came over TCP, so it can take any
    /// size), a truncated UDP answer is asked again over TCP to the same upstream.
    func forward(_ query: [UInt8], allowTCPRetry: Bool) async -> [UInt8]? {
        guard query.count >= DNSHeader.length, !upstreams.isEmpty else { return nil }
        let clientID = (query[0], query[1])
        let deadline = NIODeadline.now() + timeouts.forward
        var fallback: [UInt8]?
        var attempt = 0
        while true {
            let left = deadline - .now()
            guard left > .zero else { break }
            let upstream = upstreams[attempt % upstreams.count]
            attempt += 1
            let id = UInt16.random(in: 0...UInt16.max)
            var outgoing = query
            outgoing[0] = UInt8(id >> 8)
            outgoing[1] = UInt8(id & 0xFF)
            do {
                var answer = try await exchangeUDP(outgoing, id: id, upstream: upstream, timeout: min(left, timeouts.perUpstream))
                if allowTCPRetry, DNSHeader(peeking: answer)?.isTruncated == true {
                    fallback = answer
                    answer = try await exchangeTCP(outgoing, id: id, upstream: upstream, timeout: max(deadline - .now(), .milliseconds(1)))
                }
                answer[0] = clientID.0
                answer[1] = clientID.1
                return answer
            } catch {
                logger.debug("upstream attempt failed", metadata: ["upstream": "\(upstream)", "error": "\(error)"])
            }
        }
        // A truncated answer is still an answer: better than SERVFAIL for a TCP client
        // whose upstream will not speak TCP.
        if var fallback {
            fallback[0] = clientID.0
            fallback[1] = clientID.1
            return fallback
        }
        return nil
    }

    // MARK: - One attempt

    private func exchangeUDP(_ query: [UInt8], id: UInt16, upstream: SocketAddress, timeout: TimeAmount) async throws -> [UInt8] {
        let socket = try udpSocketFactory(upstream)
        let eventLoop = group.next()
        let reply = eventLoop.makePromise(of: [UInt8].self)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: eventLoop)
                // Upstream answers may use the whole EDNS size the client offered.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65535))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(UpstreamReplyHandler(upstream: upstream, id: id, reply: reply))
                    }
                }
                .withBoundSocket(socket).get()
        } catch {
            reply.fail(error)
            throw DNSError(.upstreamFailed, "cannot use the forwarding socket for \(upstream): \(error)")
        }
        let timer = eventLoop.scheduleTask(in: timeout) {
            reply.fail(DNSError(.upstreamFailed, "no answer from \(upstream) within \(timeout)"))
        }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: upstream, data: ByteBuffer(bytes: query))).whenFailure {
            reply.fail($0)
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await reply.futureResult.get()
    }

    private func exchangeTCP(_ query: [UInt8], id: UInt16, upstream: SocketAddress, timeout: TimeAmount) async throws -> [UInt8] {
        let eventLoop = group.next()
        let reply = eventLoop.makePromise(of: [UInt8].self)
        let timer = eventLoop.scheduleTask(in: timeout) {
            reply.fail(DNSError(.upstreamFailed, "no TCP answer from \(upstream) within \(timeout)"))
        }
        defer { timer.cancel() }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UpstreamStreamHandler(id: id, reply: reply))
                }
            }
        let channel: any Channel
        do {
            if let tcpSocketFactory {
                channel = try await bootstrap.withConnectedSocket(try await tcpSocketFactory(upstream)).get()
            } else {
                channel = try await bootstrap.connect(to: upstream).get()
            }
        } catch {
            reply.fail(error)
            throw DNSError(.upstreamFailed, "cannot connect to \(upstream) over TCP to retry a truncated answer: \(error)")
        }
        defer { channel.close(promise: nil) }
        channel.writeAndFlush(ByteBuffer(bytes: DNSStreamFramer.frame(query))).whenFailure { reply.fail($0) }
        return try await reply.futureResult.get()
    }
}

/// Completes `reply` with the first datagram that is the answer we wait for.
private final class UpstreamReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let upstream: SocketAddress
    private let id: UInt16
    private let reply: EventLoopPromise<[UInt8]>

    init(upstream: SocketAddress, id: UInt16, reply: EventLoopPromise<[UInt8]>) {
        self.upstream = upstream
        self.id = id
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // Anyone can send a datagram to our port; only the upstream's answer to our ID counts.
        guard envelope.remoteAddress == upstream,
            let header = DNSHeader(peeking: envelope.data.readableBytesView), header.isResponse, header.id == id
        else { return }
        reply.succeed(Array(envelope.data.readableBytesView))
    }

    // Unconnected UDP sockets see no ICMP errors, but a failed send or read still lands here.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reply.fail(DNSError(.upstreamFailed, "forwarding socket closed before \(upstream) answered"))
        context.fireChannelInactive()
    }
}

/// Completes `reply` with the first framed TCP message carrying our ID.
private final class UpstreamStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let id: UInt16
    private let reply: EventLoopPromise<[UInt8]>
    private var framer = DNSStreamFramer()

    init(id: UInt16, reply: EventLoopPromise<[UInt8]>) {
        self.id = id
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        framer.append(unwrapInboundIn(data).readableBytesView)
        while let message = framer.next() {
            if let header = DNSHeader(peeking: message), header.isResponse, header.id == id {
                reply.succeed(message)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reply.fail(DNSError(.upstreamFailed, "the upstream closed the TCP connection without an answer"))
        context.fireChannelInactive()
    }
}
