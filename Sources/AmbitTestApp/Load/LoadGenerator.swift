// Drives one URL with keep-alive HTTP/1.1 connections from a single event loop, closed
// loop (as fast as the connections go) or open loop at a fixed rate (see
// LoadConfiguration.rate). Every request that is due is either answered or counted as an
// error, so a run always ends and its counts add up.
import NIOCore
import NIOHTTP1
import NIOPosix

public enum LoadGenerator {
    /// Runs the warm-up, then the measured requests, on a loop of its own.
    public static func run(_ configuration: LoadConfiguration) async throws -> LoadReport {
        guard configuration.requests > 0, configuration.concurrency > 0 else {
            throw TestAppError("--requests and --concurrency must be at least 1")
        }
        if let rate = configuration.rate, !(rate > 0) { throw TestAppError("--rate must be above 0 requests per second") }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let loop = group.next()
        let report = try await loop.flatSubmit { () -> EventLoopFuture<LoadReport> in
            let run = LoadRun(configuration: configuration, eventLoop: loop)
            return run.start()
        }.get()
        return report
    }
}

/// One run's state, confined to its event loop.
private final class LoadRun: @unchecked Sendable {
    private struct Slot {
        var connection: HTTP1ClientConnection?
        var busy = false
    }

    private let configuration: LoadConfiguration
    private let eventLoop: EventLoop
    private let headers: HTTPHeaders
    private let done: EventLoopPromise<LoadReport>
    private var slots: [Slot]

    private var measuring = false
    /// Requests of the current phase handed out so far, and finished.
    private var issued = 0
    private var finished = 0
    private var phaseTotal = 0
    /// Open loop: due times (uptime ns) of requests that are due but not yet sent.
    private var due: [UInt64] = []
    private var dueHead = 0
    private var startNanos: UInt64 = 0
    private var intervalNanos: Double = 0

    private var latencies: [UInt64] = []
    private var services: [UInt64] = []
    private var statuses: [Int: Int] = [:]
    private var versions: [String: Int] = [:]
    private var upstreams: [String: Int] = [:]
    private var errors: [String: Int] = [:]

    init(configuration: LoadConfiguration, eventLoop: EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        var headers = HTTPHeaders()
        for (name, value) in configuration.headers { headers.add(name: name, value: value) }
        // A Host given with --header replaces the URL's: two Host headers are a 400.
        if !headers.contains(name: "host") { headers.add(name: "host", value: configuration.url.hostHeader) }
        self.headers = headers
        done = eventLoop.makePromise()
        slots = Array(repeating: Slot(), count: configuration.concurrency)
        latencies.reserveCapacity(configuration.requests)
        services.reserveCapacity(configuration.requests)
    }

    func start() -> EventLoopFuture<LoadReport> {
        if configuration.warmup > 0 {
            beginPhase(total: configuration.warmup, measuring: false)
        } else {
            beginMeasuring()
        }
        return done.futureResult
    }

    private func beginPhase(total: Int, measuring: Bool) {
        self.measuring = measuring
        issued = 0
        finished = 0
        phaseTotal = total
        for i in slots.indices { fill(slot: i) }
    }

    private func beginMeasuring() {
        startNanos = NIODeadline.now().uptimeNanoseconds
        if let rate = configuration.rate {
            intervalNanos = 1e9 / rate
            measuring = true
            issued = 0
            finished = 0
            phaseTotal = configuration.requests
            tick()
        } else {
            beginPhase(total: configuration.requests, measuring: true)
        }
    }

    // MARK: - Open loop

    /// Moves every request whose time has come into `due`, hands them to idle
    /// connections, and wakes up again for the next one.
    private func tick() {
        let now = NIODeadline.now().uptimeNanoseconds
        var scheduled = issued + (due.count - dueHead)
        while scheduled < phaseTotal {
            let at = startNanos + UInt64(Double(scheduled) * intervalNanos)
            if at > now {
                eventLoop.scheduleTask(deadline: .uptimeNanoseconds(at)) { self.tick() }
                break
            }
            due.append(at)
            scheduled += 1
        }
        for i in slots.indices where !slots[i].busy { fill(slot: i) }
    }

    // MARK: - Sending

    /// Gives slot `i` its next request, if there is one for it now.
    private func fill(slot i: Int) {
        guard !slots[i].busy, issued < phaseTotal else { return }
        let dueAt: UInt64?
        if measuring, configuration.rate != nil {
            guard dueHead < due.count else { return }
            dueAt = due[dueHead]
            dueHead += 1
            if dueHead > 4096 && dueHead * 2 > due.count {
                due.removeFirst(dueHead)
                dueHead = 0
            }
        } else {
            dueAt = nil
        }
        issued += 1
        slots[i].busy = true
        if let connection = slots[i].connection, connection.isReusable {
            send(on: connection, slot: i, dueAt: dueAt)
        } else {
            slots[i].connection = nil
            HTTP1ClientConnection.connect(to: configuration.url.endpoint, on: eventLoop, keepBody: false).whenComplete { result in
                switch result {
                case .success(let connection):
                    self.slots[i].connection = connection
                    self.send(on: connection, slot: i, dueAt: dueAt)
                case .failure(let error):
                    self.complete(slot: i, dueAt: dueAt, sentAt: NIODeadline.now().uptimeNanoseconds, result: .failure(error))
                }
            }
        }
    }

    private func send(on connection: HTTP1ClientConnection, slot i: Int, dueAt: UInt64?) {
        let sentAt = NIODeadline.now().uptimeNanoseconds
        connection.send(method: configuration.method, target: configuration.url.target, headers: headers, body: configuration.body)
            .whenComplete { result in self.complete(slot: i, dueAt: dueAt, sentAt: sentAt, result: result) }
    }

    private func complete(slot i: Int, dueAt: UInt64?, sentAt: UInt64, result: Result<ClientResponse, Error>) {
        let now = NIODeadline.now().uptimeNanoseconds
        slots[i].busy = false
        finished += 1
        if measuring {
            switch result {
            case .success(let response):
                statuses[response.status, default: 0] += 1
                versions[response.headers.first(name: "x-ambit-version") ?? "-", default: 0] += 1
                for value in response.headers[TestAppHeaders.upstream] {
                    for part in value.split(separator: ",") { upstreams[String(String(part).trimmingSpaces), default: 0] += 1 }
                }
                latencies.append(now &- (dueAt ?? sentAt))
                services.append(now &- sentAt)
            case .failure(let error):
                errors[Self.describe(error), default: 0] += 1
                slots[i].connection = nil
            }
        } else if case .failure = result {
            slots[i].connection = nil
        }
        if finished == phaseTotal {
            if measuring { finish() } else { beginMeasuring() }
            return
        }
        fill(slot: i)
    }

    private func finish() {
        let seconds = Double(NIODeadline.now().uptimeNanoseconds - startNanos) / 1e9
        for slot in slots { slot.connection?.close() }
        done.succeed(LoadReport(
            requests: configuration.requests, seconds: seconds, statuses: statuses, versions: versions, upstreams: upstreams, errors: errors,
            latency: LatencySummary(nanoseconds: latencies), service: LatencySummary(nanoseconds: services),
            targetRate: configuration.rate))
    }

    private static func describe(_ error: Error) -> String {
        if let e = error as? TestAppError { return e.description }
        return String(describing: error)
    }
}
