import Foundation

/// One `ambit-testapp serve` running inside a pod, as the pod's application: the backend
/// of the waypoint behaviour tests. It reports what it was asked (`/stats`: requests by
/// status and by `x-envoy-attempt-count`), so a test counts attempts at the backend
/// rather than trusting the proxy's own account.
public final class TestAppProcess: Sendable {
    public let pod: Topology.Pod
    public let port: Int
    public let grpcPort: Int?
    public let name: String
    public let version: String
    public let process: TestProcess

    init(pod: Topology.Pod, port: Int, grpcPort: Int?, name: String, version: String, process: TestProcess) {
        self.pod = pod
        self.port = port
        self.grpcPort = grpcPort
        self.name = name
        self.version = version
        self.process = process
    }

    /// The instance's counters (`GET /stats`, read from inside its pod on loopback, which
    /// the mesh leaves alone).
    public func stats() async throws -> TestAppStatsSnapshot {
        let text = try await MeshHTTPProbe.get("/stats", port: port, netnsPath: pod.netnsPath, context: pod.context)
        return try TestAppStatsSnapshot(json: text)
    }
}

/// `GET /stats` of one testapp instance.
public struct TestAppStatsSnapshot: Sendable, CustomStringConvertible {
    /// Requests received (admin paths excluded), every attempt counted.
    public var requests: Int
    public var byStatus: [Int: Int]
    /// By the `x-envoy-attempt-count` the request carried (1 when absent).
    public var byAttempt: [Int: Int]
    public var grpcCalls: Int
    public var websocketMessages: Int

    init(json text: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw TestFailure("the testapp's /stats is not a JSON object: \(text)")
        }
        func counts(_ key: String) -> [Int: Int] {
            var out: [Int: Int] = [:]
            for (k, v) in object[key] as? [String: Any] ?? [:] {
                if let k = Int(k), let v = v as? Int { out[k] = v }
            }
            return out
        }
        requests = object["requests"] as? Int ?? 0
        byStatus = counts("by_status")
        byAttempt = counts("by_attempt")
        grpcCalls = object["grpc_calls"] as? Int ?? 0
        websocketMessages = object["websocket_messages"] as? Int ?? 0
    }

    /// What happened between `earlier` and this snapshot.
    public func since(_ earlier: TestAppStatsSnapshot) -> TestAppStatsSnapshot {
        var delta = self
        delta.requests -= earlier.requests
        delta.grpcCalls -= earlier.grpcCalls
        delta.websocketMessages -= earlier.websocketMessages
        for (k, v) in earlier.byStatus { delta.byStatus[k, default: 0] -= v }
        for (k, v) in earlier.byAttempt { delta.byAttempt[k, default: 0] -= v }
        delta.byStatus = delta.byStatus.filter { $0.value != 0 }
        delta.byAttempt = delta.byAttempt.filter { $0.value != 0 }
        return delta
    }

    public var description: String {
        "requests \(requests), by status \(byStatus.sorted { $0.key < $1.key }), by attempt \(byAttempt.sorted { $0.key < $1.key })"
    }
}

extension MeshHarness {
    /// The `ambit-testapp` executable next to `ambit` (built by `swift build --build-tests`).
    public static func testAppBinary() throws -> String {
        let candidate = (try ambitBinary() as NSString).deletingLastPathComponent + "/ambit-testapp"
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestFailure("the ambit-testapp binary is not at \(candidate); build it first with `swift build --build-tests`")
        }
        return candidate
    }
}

extension Topology.Pod {
    /// Starts `ambit-testapp serve` on `0.0.0.0:port` inside the pod (`arguments` adds
    /// serve flags: `--fail-percent`, `--delay`, ...) and waits until it listens.
    /// Teardown kills it.
    public func startTestApp(
        port: Int, name: String, version: String, grpcPort: Int? = nil, arguments: [String] = []
    ) async throws -> TestAppProcess {
        var command = [
            try MeshHarness.testAppBinary(), "serve", "--listen", "0.0.0.0:\(port)", "--name", name, "--version", version,
        ]
        if let grpcPort { command += ["--grpc-listen", "0.0.0.0:\(grpcPort)"] }
        let process = try spawn(command + arguments)
        try await waitUntil("ambit-testapp \(name) listens on \(ip):\(port)", timeoutSeconds: 15) {
            guard process.isRunning else { throw TestFailure("ambit-testapp \(name) in \(key) exited: \(process.output)") }
            return process.stdout.contains("listening on")
        }
        return TestAppProcess(pod: self, port: port, grpcPort: grpcPort, name: name, version: version, process: process)
    }
}
