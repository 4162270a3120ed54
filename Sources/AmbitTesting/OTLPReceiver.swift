import Foundation

/// A real OTLP/gRPC trace receiver for tests: scripts/lib/otlp_receiver.py (official
/// OpenTelemetry protos + grpcio) run as a child process on loopback, recording every
/// span it is sent as a JSON line. A span seen here went through a real exporter, a real
/// gRPC connection and the reference schema, not through a stub of our own.
///
/// Its Python packages live in a venv that `ensure_otlp_receiver` (scripts/lib/common.sh,
/// called by scripts/test.sh) creates at `.build/otlp-receiver-venv`; set
/// AMBIT_OTLP_RECEIVER_PYTHON to use another interpreter that has them.
public final class OTLPReceiver: Sendable {
    /// One span as the receiver wrote it down.
    public struct ReceivedSpan: Decodable, Sendable, CustomStringConvertible {
        public let traceID: String
        public let spanID: String
        /// Empty for a root span.
        public let parentSpanID: String
        public let name: String
        /// `SPAN_KIND_SERVER`, ...
        public let kind: String
        public let serviceName: String
        public let startTimeUnixNano: UInt64
        public let endTimeUnixNano: UInt64
        /// `STATUS_CODE_UNSET`, `STATUS_CODE_OK` or `STATUS_CODE_ERROR`.
        public let statusCode: String
        /// Attribute values as text (integers in decimal).
        public let attributes: [String: String]
        public let resource: [String: String]

        enum CodingKeys: String, CodingKey {
            case traceID = "trace_id", spanID = "span_id", parentSpanID = "parent_span_id", name, kind
            case serviceName = "service_name", startTimeUnixNano = "start_time_unix_nano"
            case endTimeUnixNano = "end_time_unix_nano", statusCode = "status_code", attributes, resource
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            traceID = try container.decode(String.self, forKey: .traceID)
            spanID = try container.decode(String.self, forKey: .spanID)
            parentSpanID = try container.decode(String.self, forKey: .parentSpanID)
            name = try container.decode(String.self, forKey: .name)
            kind = try container.decode(String.self, forKey: .kind)
            serviceName = try container.decode(String.self, forKey: .serviceName)
            startTimeUnixNano = try container.decode(UInt64.self, forKey: .startTimeUnixNano)
            endTimeUnixNano = try container.decode(UInt64.self, forKey: .endTimeUnixNano)
            statusCode = try container.decode(String.self, forKey: .statusCode)
            attributes = try container.decode([String: Scalar].self, forKey: .attributes).mapValues(\.text)
            resource = try container.decode([String: Scalar].self, forKey: .resource).mapValues(\.text)
        }

        public var description: String {
            "\(name) trace=\(traceID) span=\(spanID) parent=\(parentSpanID.isEmpty ? "-" : parentSpanID) service=\(serviceName)"
        }
    }

    /// A JSON scalar read as text.
    private struct Scalar: Decodable {
        let text: String
        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let int = try? value.decode(Int64.self) { text = String(int) }
            else if let bool = try? value.decode(Bool.self) { text = String(bool) }
            else if let double = try? value.decode(Double.self) { text = String(double) }
            else if let string = try? value.decode(String.self) { text = string }
            else { text = "" }
        }
    }

    public let port: Int
    public let process: TestProcess
    public let spansPath: String
    private let directory: String

    /// `http://127.0.0.1:<port>`, the form OTLP/gRPC exporters take.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Starts the receiver on a kernel-chosen loopback port and waits until it listens.
    /// Throws a message naming what is missing when Python or its packages are not there.
    /// `python` overrides the interpreter (default: AMBIT_OTLP_RECEIVER_PYTHON, else the venv).
    /// `netns` runs it inside that network namespace (by name), so a process in a test
    /// topology's pod reaches it on that pod's loopback; stop it before the namespace goes.
    public static func start(python: String? = nil, netns: String? = nil, timeout: Double = 20) async throws -> OTLPReceiver {
        let root = packageRoot()
        let script = root + "/scripts/lib/otlp_receiver.py"
        let python = python ?? ProcessInfo.processInfo.environment["AMBIT_OTLP_RECEIVER_PYTHON"]
            ?? root + "/.build/otlp-receiver-venv/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw TestFailure(
                "the OTLP test receiver needs Python with opentelemetry-proto and grpcio, expected at \(python); "
                    + "run `source scripts/lib/common.sh && ensure_otlp_receiver` in \(root) "
                    + "(scripts/test.sh does this), or point AMBIT_OTLP_RECEIVER_PYTHON at such an interpreter"
            )
        }
        guard FileManager.default.fileExists(atPath: script) else {
            throw TestFailure("the OTLP test receiver script is missing at \(script)")
        }
        let directory = NSTemporaryDirectory() + "ambit-otlp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let spans = directory + "/spans.jsonl"
        let ready = directory + "/ready"
        let process = try TestProcess.spawn(
            (netns.map { ["ip", "netns", "exec", $0] } ?? []) + [python, script, "--host", "127.0.0.1", "--port", "0", "--out", spans, "--ready-file", ready],
            outputPrefix: directory + "/receiver"
        )
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let text = try? String(contentsOfFile: ready, encoding: .utf8),
               let port = text.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                return OTLPReceiver(port: port, process: process, spansPath: spans, directory: directory)
            }
            if let status = process.exitStatus {
                let output = process.output  // read before its files go
                try? FileManager.default.removeItem(atPath: directory)
                throw TestFailure("the OTLP test receiver (\(python) \(script)) ended with \(status) before listening: \(output)")
            }
            if Date() >= deadline {
                await process.terminate()
                let output = process.output
                try? FileManager.default.removeItem(atPath: directory)
                throw TestFailure("the OTLP test receiver did not start listening within \(timeout) s: \(output)")
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    private init(port: Int, process: TestProcess, spansPath: String, directory: String) {
        self.port = port
        self.process = process
        self.spansPath = spansPath
        self.directory = directory
    }

    /// Every span received so far.
    public func spans() throws -> [ReceivedSpan] {
        guard let text = try? String(contentsOfFile: spansPath, encoding: .utf8) else { return [] }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { line in
            try decoder.decode(ReceivedSpan.self, from: Data(line.utf8))
        }
    }

    /// Waits until a span matching `predicate` has arrived.
    public func waitForSpan(
        timeout: Double = 20, where predicate: (ReceivedSpan) -> Bool = { _ in true }
    ) async throws -> ReceivedSpan {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let span = try spans().first(where: predicate) { return span }
            if let status = process.exitStatus {
                throw TestFailure("the OTLP test receiver ended with \(status): \(process.output)")
            }
            if Date() >= deadline {
                throw TestFailure("no matching span reached the OTLP receiver within \(timeout) s; received: \(try spans())")
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// Stops the receiver (by its pid) and removes its files.
    public func stop() async {
        await process.terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The checkout this package was built from: three levels above this file.
    private static func packageRoot(file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }
}
