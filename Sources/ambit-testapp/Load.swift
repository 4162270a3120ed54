import AmbitTestApp
import ArgumentParser
import NIOCore
import NIOHTTP1

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send HTTP/1.1 requests over keep-alive connections; print status counts, versions and latency.",
        discussion: """
            Without --rate the run is closed loop (each connection sends its next request when \
            the previous one is answered). With --rate it is open loop: requests are due at a \
            fixed rate whatever happens, and latency counts from when each was due, so stalls \
            are not hidden (coordinated omission). --concurrency bounds the requests in flight.
            """)

    @Option(help: "http://host:port/path to request.")
    var url: String

    @Option(help: "Measured requests. With --rate, --duration may be given instead.")
    var requests: Int?

    @Option(help: "Seconds to run at --rate (requests = rate × duration).")
    var duration: Double?

    @Option(help: "Keep-alive connections (requests in flight at most).")
    var concurrency = 1

    @Option(help: "Fixed request rate per second (open loop).")
    var rate: Double?

    @Option(help: "Unmeasured closed-loop requests first.")
    var warmup = 0

    @Option(help: "HTTP method.")
    var method = "GET"

    @Option(help: "Request header 'Name: value'; repeatable.")
    var header: [String] = []

    @Option(help: "Send a request body of this many bytes.")
    var bodyBytes: Int?

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func run() async throws {
        let total: Int
        if let requests {
            total = requests
        } else if let duration, let rate {
            total = Int((duration * rate).rounded())
        } else {
            throw ValidationError("give --requests N (or --rate R with --duration S)")
        }
        var headers: [(String, String)] = []
        for item in header {
            guard let colon = item.firstIndex(of: ":") else { throw ValidationError("--header '\(item)' is not 'Name: value'") }
            headers.append((String(item[..<colon]), String(item[item.index(after: colon)...].drop(while: { $0 == " " }))))
        }
        let body = bodyBytes.map { ByteBuffer(repeating: UInt8(ascii: "b"), count: $0) }
        let configuration = LoadConfiguration(
            url: try HTTPURL(parsing: url), method: HTTPMethod(rawValue: method.uppercased()), headers: headers, body: body,
            requests: total, concurrency: concurrency, rate: rate, warmup: warmup)
        let report = try await LoadGenerator.run(configuration)
        emit(json ? report.json() : report.text())
        if report.completed == 0 { throw ExitCode(1) }
    }
}
