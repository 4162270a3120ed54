#if canImport(Glibc)
import Glibc
#endif
import AmbitDNS
import AmbitTesting
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

// MARK: - Building queries

func makeQuery(_ name: String, _ type: DNSRecordType = .a, id: UInt16 = 0x1234, edns: UInt16? = nil) throws -> DNSMessage {
    var header = DNSHeader(id: id)
    header.recursionDesired = true
    var query = DNSMessage(header: header, questions: [DNSQuestion(name: try DNSName(name), type: type)])
    if let edns { query.additionals = [.opt(udpPayloadSize: edns)] }
    return query
}

func addresses(of response: DNSMessage) -> [String] {
    response.answers.compactMap { record in
        switch record.data {
        case .a(let bytes), .aaaa(let bytes): (try? MeshAddress(bytes: bytes))?.description
        default: nil
        }
    }
}

// MARK: - Blocking clients (run on their own thread)

/// Sends one datagram to 127.0.0.1:`port` and returns the reply.
func udpExchange(_ query: [UInt8], port: Int, timeoutSeconds: Int = 10) async throws -> [UInt8] {
    try await BlockingSocket.run {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let sent = query.withUnsafeBytes { bytes in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == query.count else { throw TestFailure("sendto failed") }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw TestFailure("no UDP reply within \(timeoutSeconds) s") }
        return Array(buffer[0..<n])
    }
}

/// Sends every query on one TCP connection (each length-prefixed), then reads as many replies.
func tcpExchange(_ queries: [[UInt8]], port: Int) async throws -> [[UInt8]] {
    try await BlockingSocket.run {
        let socket = try BlockingSocket(connectTo: port, receiveTimeoutSeconds: 10)
        var replies: [[UInt8]] = []
        for query in queries {
            let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
            try framed.withUnsafeBytes { try socket.send($0) }
        }
        for _ in queries {
            let length = try socket.read(exactly: 2)
            replies.append(try socket.read(exactly: Int(length[0]) << 8 | Int(length[1])))
        }
        return replies
    }
}

// MARK: - A fake upstream resolver

/// A resolver on 127.0.0.1 answering with `answer(query)` over UDP (nil: never answers),
/// and over TCP with `tcpAnswer` when given. Records the IDs it saw.
final class FakeUpstream: Sendable {
    typealias Answer = @Sendable (DNSMessage) -> DNSMessage?
    private let udp: any Channel
    private let tcp: (any Channel)?
    private let seen: NIOLockedValueBox<[UInt16]>
    var address: SocketAddress { udp.localAddress! }
    var queryIDs: [UInt16] { seen.withLockedValue { $0 } }

    private init(udp: any Channel, tcp: (any Channel)?, seen: NIOLockedValueBox<[UInt16]>) {
        self.udp = udp
        self.tcp = tcp
        self.seen = seen
    }

    static func start(group: any EventLoopGroup, tcpAnswer: Answer? = nil, answer: @escaping Answer) async throws -> FakeUpstream {
        let seen = NIOLockedValueBox<[UInt16]>([])
        let udp = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FakeUDPHandler(answer: answer, seen: seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        var tcp: (any Channel)?
        if let tcpAnswer {
            tcp = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(FakeTCPHandler(answer: tcpAnswer, seen: seen))
                    }
                }
                .bind(host: "127.0.0.1", port: udp.localAddress!.port!).get()
        }
        return FakeUpstream(udp: udp, tcp: tcp, seen: seen)
    }

    func close() async {
        try? await udp.close()
        try? await tcp?.close()
    }
}

private final class FakeUDPHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    let answer: FakeUpstream.Answer
    let seen: NIOLockedValueBox<[UInt16]>

    init(answer: @escaping FakeUpstream.Answer, seen: NIOLockedValueBox<[UInt16]>) {
        self.answer = answer
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let query = try? DNSMessage(parsing: Array(envelope.data.readableBytesView)) else { return }
        seen.withLockedValue { $0.append(query.header.id) }
        guard let reply = answer(query) else { return }
        context.writeAndFlush(
            wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply.serialized()))),
            promise: nil)
    }
}

private final class FakeTCPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let answer: FakeUpstream.Answer
    let seen: NIOLockedValueBox<[UInt16]>
    var pending: [UInt8] = []

    init(answer: @escaping FakeUpstream.Answer, seen: NIOLockedValueBox<[UInt16]>) {
        self.answer = answer
        self.seen = seen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += Array(unwrapInboundIn(data).readableBytesView)
        while pending.count >= 2, pending.count >= 2 + (Int(pending[0]) << 8 | Int(pending[1])) {
            let length = Int(pending[0]) << 8 | Int(pending[1])
            let bytes = Array(pending[2..<2 + length])
            pending.removeFirst(2 + length)
            guard let query = try? DNSMessage(parsing: bytes), let reply = answer(query)?.serialized() else { continue }
            seen.withLockedValue { $0.append(query.header.id) }
            let framed = [UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: framed)), promise: nil)
        }
    }
}
