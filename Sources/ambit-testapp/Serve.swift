import AmbitTestApp
import ArgumentParser

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve HTTP/1.1, h2c (prior knowledge, same port), WebSocket /ws and optionally gRPC.",
        discussion: """
            Every answer carries x-ambit-name, x-ambit-version and x-testapp-request headers and, \
            unless --body-bytes is set, a JSON report of the request the server saw. \
            Paths: /echo (body back), /ws (WebSocket echo), /stats (counters, JSON), \
            POST /stats/reset, /healthz. Per-request overrides: x-testapp-status, \
            x-testapp-delay-ms, x-testapp-fail-attempts, x-testapp-body-bytes.
            """)

    @Option(help: "ADDR:PORT for HTTP/1.1 and h2c (port 0 picks one; the chosen one is printed).")
    var listen: String

    @Option(help: "Instance name, reported in every answer.")
    var name = "testapp"

    @Option(name: .customLong("version"), help: "Version label (x-ambit-version), e.g. v1 or v2.")
    var appVersion = "v1"

    @Option(help: "Fail this percentage of requests (0–100).")
    var failPercent: Double = 0

    @Option(help: "Status code of injected failures.")
    var failCode = 500

    @Option(help: "How failures are picked: spread (exact, evenly spaced, first request fails) or random.")
    var failMode = "spread"

    @Option(help: "Delay every answer by this many milliseconds.")
    var delay: Int64 = 0

    @Option(help: "ADDR:PORT for the gRPC Echo service (plaintext HTTP/2).")
    var grpcListen: String?

    @Option(help: "Call this http:// URL (GET) for every request and embed its answer; repeatable.")
    var call: [String] = []

    @Option(help: "Answer with this many filler bytes instead of the JSON report (benchmarks).")
    var bodyBytes: Int?

    @Option(help: "Largest request body accepted (bytes); larger ones get 413.")
    var maxBodyBytes = 64 << 20

    func run() async throws {
        guard (0...100).contains(failPercent) else { throw ValidationError("--fail-percent must be within 0...100") }
        guard (100...599).contains(failCode) else { throw ValidationError("--fail-code must be an HTTP status (100...599)") }
        guard let mode = FailMode(rawValue: failMode) else {
            throw ValidationError("--fail-mode must be one of: \(FailMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard delay >= 0 else { throw ValidationError("--delay must not be negative") }
        if let bodyBytes, bodyBytes < 0 { throw ValidationError("--body-bytes must not be negative") }
        let configuration = ServeConfiguration(
            listen: try HostPort(parsing: listen), name: name, version: appVersion,
            faults: FaultSettings(failPercent: failPercent, failCode: failCode, failMode: mode, delayMilliseconds: delay),
            grpcListen: try grpcListen.map(HostPort.init(parsing:)), calls: try call.map(HTTPURL.init(parsing:)),
            bodyBytes: bodyBytes, maxRequestBodyBytes: maxBodyBytes)
        let server = try await TestAppServer.start(configuration)
        var line = "ambit-testapp \(name) \(appVersion) listening on http://\(server.httpAddress) (HTTP/1.1, h2c, /ws)"
        if let grpc = server.grpcAddress { line += ", gRPC on \(grpc)" }
        emit(line)
        try await server.waitUntilClosed()
    }
}
