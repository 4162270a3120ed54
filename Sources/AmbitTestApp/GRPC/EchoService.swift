// The gRPC side of the test app: unary Echo and bidirectional EchoStream, answering with
// the instance's name and version and the metadata the call arrived with, so a test can
// see what a proxy added. A request can ask to fail with a given status code.
import GRPCCore

struct EchoService: Ambit_Testapp_V1_Echo.ServiceProtocol {
    let name: String
    let version: String
    let stats: TestAppStats

    func echo(
        request: ServerRequest<Ambit_Testapp_V1_EchoRequest>, context: ServerContext
    ) async throws -> ServerResponse<Ambit_Testapp_V1_EchoReply> {
        stats.grpcCall()
        try Self.failIfAsked(request.message)
        return ServerResponse(message: reply(to: request.message, sequence: 0, metadata: request.metadata))
    }

    func echoStream(
        request: StreamingServerRequest<Ambit_Testapp_V1_EchoRequest>, context: ServerContext
    ) async throws -> StreamingServerResponse<Ambit_Testapp_V1_EchoReply> {
        stats.grpcCall()
        let metadata = request.metadata
        return StreamingServerResponse { writer in
            var sequence: Int64 = 0
            for try await message in request.messages {
                try Self.failIfAsked(message)
                // Answer each message as it arrives: the client may wait for this reply
                // before it sends the next one.
                try await writer.write(reply(to: message, sequence: sequence, metadata: metadata))
                sequence += 1
            }
            return [:]
        }
    }

    private func reply(to request: Ambit_Testapp_V1_EchoRequest, sequence: Int64, metadata: Metadata) -> Ambit_Testapp_V1_EchoReply {
        var reply = Ambit_Testapp_V1_EchoReply()
        reply.message = request.message
        reply.name = name
        reply.version = version
        reply.sequence = sequence
        for (key, value) in metadata {
            guard case .string(let text) = value else { continue }
            let key = key.lowercased()
            if let existing = reply.metadata[key] { reply.metadata[key] = existing + ", " + text } else { reply.metadata[key] = text }
        }
        return reply
    }

    private static func failIfAsked(_ request: Ambit_Testapp_V1_EchoRequest) throws {
        guard request.failWithCode != 0 else { return }
        guard let status = Status.Code(rawValue: Int(request.failWithCode)), let code = RPCError.Code(status) else {
            throw RPCError(code: .invalidArgument, message: "fail_with_code \(request.failWithCode) is not a gRPC status code (1...16)")
        }
        throw RPCError(code: code, message: "failing as asked (fail_with_code \(request.failWithCode))")
    }
}
