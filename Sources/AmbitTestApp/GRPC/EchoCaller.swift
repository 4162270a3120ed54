// The client side of the Echo service, for `ambit-testapp grpc-call` and for tests: one
// connection per call sequence, plaintext HTTP/2.
import GRPCCore
import GRPCNIOTransportHTTP2

public struct EchoCaller: Sendable {
    public var target: HostPort
    public var metadata: [(String, String)]

    public init(target: HostPort, metadata: [(String, String)] = []) {
        self.target = target
        self.metadata = metadata
    }

    private var grpcMetadata: Metadata {
        var m = Metadata()
        for (k, v) in metadata { m.addString(v, forKey: k) }
        return m
    }

    private func withClient<R: Sendable>(_ body: @Sendable @escaping (Ambit_Testapp_V1_Echo.Client<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
        let resolvable: any ResolvableTarget =
            target.host.contains(":") ? .ipv6(address: target.host, port: target.port) : .dns(host: target.host, port: target.port)
        return try await withGRPCClient(transport: .http2NIOPosix(target: resolvable, transportSecurity: .plaintext)) { client in
            try await body(Ambit_Testapp_V1_Echo.Client(wrapping: client))
        }
    }

    /// One unary Echo.
    public func unary(_ message: String, failWithCode: Int32 = 0) async throws -> Ambit_Testapp_V1_EchoReply {
        var request = Ambit_Testapp_V1_EchoRequest()
        request.message = message
        request.failWithCode = failWithCode
        let message = request
        let metadata = grpcMetadata
        return try await withClient { echo in try await echo.echo(message, metadata: metadata) }
    }

    /// An EchoStream of `count` messages in lock step: message i+1 is sent only after the
    /// reply to message i arrived, which proves both directions stream at once.
    public func stream(count: Int) async throws -> [Ambit_Testapp_V1_EchoReply] {
        let metadata = grpcMetadata
        let (replied, signal) = AsyncStream<Void>.makeStream()
        return try await withClient { echo in
            try await echo.echoStream(
                metadata: metadata,
                requestProducer: { writer in
                    var acks = replied.makeAsyncIterator()
                    for i in 0..<count {
                        var request = Ambit_Testapp_V1_EchoRequest()
                        request.message = "message \(i)"
                        try await writer.write(request)
                        guard await acks.next() != nil else { return }
                    }
                },
                onResponse: { response in
                    var replies: [Ambit_Testapp_V1_EchoReply] = []
                    for try await reply in response.messages {
                        replies.append(reply)
                        signal.yield()
                    }
                    signal.finish()
                    return replies
                })
        }
    }
}
