import AmbitTestApp
import ArgumentParser

struct GRPCCall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-call",
        abstract: "Call the Echo service: one unary call, or a bidirectional stream of N messages.")

    @Option(help: "ADDR:PORT of the gRPC server (plaintext HTTP/2).")
    var target: String

    @Option(help: "Send one unary Echo with this message.")
    var unary: String?

    @Option(help: "Open an EchoStream and send this many messages, each answered before the next is sent.")
    var stream: Int?

    @Option(help: "Metadata to send, KEY=VALUE; repeatable.")
    var metadata: [String] = []

    @Option(help: "Ask the server to fail the call with this gRPC status code.")
    var failWithCode: Int32 = 0

    func run() async throws {
        guard (unary == nil) != (stream == nil) else { throw ValidationError("give exactly one of --unary MSG or --stream N") }
        let endpoint = try HostPort(parsing: target)
        var pairs: [(String, String)] = []
        for item in metadata {
            guard let eq = item.firstIndex(of: "=") else { throw ValidationError("--metadata '\(item)' is not KEY=VALUE") }
            pairs.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
        }
        let client = EchoCaller(target: endpoint, metadata: pairs)
        if let unary {
            let reply = try await client.unary(unary, failWithCode: failWithCode)
            emit("unary: \"\(reply.message)\" from \(reply.name) \(reply.version)")
        } else if let stream {
            guard stream > 0 else { throw ValidationError("--stream needs at least 1 message") }
            let replies = try await client.stream(count: stream)
            for reply in replies { emit("stream[\(reply.sequence)]: \"\(reply.message)\" from \(reply.name) \(reply.version)") }
            emit("stream: \(replies.count) of \(stream) replies")
            if replies.count != stream { throw ExitCode(1) }
        }
    }
}
