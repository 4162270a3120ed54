import Foundation

/// What `ambit-testapp load --json` reported.
public struct LoadResult: Sendable, CustomStringConvertible {
    public var requests: Int
    public var completed: Int
    public var seconds: Double
    public var statuses: [Int: Int]
    /// By the `x-ambit-version` response header ("-" when absent).
    public var versions: [String: Int]
    public var errors: [String: Int]
    public var p50Microseconds: Double
    public var maxMicroseconds: Double

    init(json text: String) throws {
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else { throw TestFailure("ambit-testapp load printed no JSON report: \(text)") }
        func ints(_ key: String) -> [String: Int] { (object[key] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int } }
        requests = object["requests"] as? Int ?? 0
        completed = object["completed"] as? Int ?? 0
        seconds = object["seconds"] as? Double ?? 0
        statuses = Dictionary(uniqueKeysWithValues: ints("statuses").compactMap { k, v in Int(k).map { ($0, v) } })
        versions = ints("versions")
        errors = ints("errors")
        let latency = object["latency_us"] as? [String: Any] ?? [:]
        p50Microseconds = (latency["p50"] as? Double) ?? Double(latency["p50"] as? Int ?? 0)
        maxMicroseconds = (latency["max"] as? Double) ?? Double(latency["max"] as? Int ?? 0)
    }

    public var description: String {
        "completed \(completed)/\(requests) in \(seconds) s, statuses \(statuses.sorted { $0.key < $1.key }), "
            + "versions \(versions.sorted { $0.key < $1.key })" + (errors.isEmpty ? "" : ", errors \(errors)")
    }
}

extension Topology.Pod {
    /// Runs `ambit-testapp load` inside the pod (its traffic is captured like any app's)
    /// and returns its report. `rate` makes the run open loop at that many requests per second.
    public func load(
        url: String, requests: Int, concurrency: Int = 1, rate: Double? = nil, method: String = "GET",
        headers: [String: String] = [:], timeoutSeconds: Double = 60
    ) async throws -> LoadResult {
        var command = [
            try MeshHarness.testAppBinary(), "load", "--url", url, "--requests", String(requests),
            "--concurrency", String(concurrency), "--method", method, "--json",
        ]
        if let rate { command += ["--rate", String(rate)] }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { command += ["--header", "\(name): \(value)"] }
        let result = try await run(command, timeout: timeoutSeconds)
        // Exit 1 only when nothing completed; the report still says why.
        return try LoadResult(json: result.stdout + "\n" + result.stderr)
    }

    /// Runs `ambit-testapp grpc-call` inside the pod; `arguments` are `--unary MSG` or
    /// `--stream N` (and `--metadata K=V`).
    public func grpcCall(target: String, _ arguments: [String], timeoutSeconds: Double = 20) async throws -> CommandResult {
        try await run([try MeshHarness.testAppBinary(), "grpc-call", "--target", target] + arguments, timeout: timeoutSeconds)
    }
}
