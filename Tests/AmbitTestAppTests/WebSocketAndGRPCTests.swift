import Foundation
import GRPCCore
import Testing

@testable import AmbitTestApp

@Suite("WebSocket and gRPC")
struct WebSocketAndGRPCTests {
    /// A client frame: FIN + opcode, masked payload (clients must mask).
    private func maskedFrame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x11, 0x22, 0x33, 0x44]
        return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    @Test func webSocketUpgradeThenEcho() async throws {
        try await withServer { server in
            let socket = try RawSocket(port: server.httpAddress.port)
            try socket.send(
                "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let handshake = try socket.receive { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }
            let head = String(decoding: handshake, as: UTF8.self)
            #expect(head.hasPrefix("HTTP/1.1 101"))
            // RFC 6455's own example key and accept value.
            #expect(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))

            for message in ["hello", "second message"] {
                try socket.send(maskedFrame(opcode: 0x1, Array(message.utf8)))
                let reply = try socket.receive { $0.count >= 2 && $0.count >= 2 + Int($0[1] & 0x7F) }
                #expect(reply[0] == 0x81, "FIN + text")
                #expect(reply[1] & 0x80 == 0, "server frames are not masked")
                #expect(String(decoding: reply[2...], as: UTF8.self) == message)
            }
            try socket.send(maskedFrame(opcode: 0x8, [0x03, 0xE8]))
            let close = try socket.receive { $0.count >= 4 }
            #expect(close[0] == 0x88)

            let stats = try await statsOf(server)
            #expect(stats["websocket_messages"] as? Int == 2)
        }
    }

    @Test func grpcUnaryAndBidirectionalStream() async throws {
        try await withServer({ $0.grpcListen = HostPort(host: "127.0.0.1", port: 0) }) { server in
            let target = try #require(server.grpcAddress)
            let caller = EchoCaller(target: target, metadata: [("x-test", "yes")])

            let reply = try await caller.unary("ping")
            #expect(reply.message == "ping")
            #expect(reply.name == "back" && reply.version == "v2")
            #expect(reply.metadata["x-test"] == "yes")

            let replies = try await caller.stream(count: 5)
            #expect(replies.map(\.message) == (0..<5).map { "message \($0)" })
            #expect(replies.map(\.sequence) == [0, 1, 2, 3, 4])

            await #expect(throws: RPCError.self) { try await caller.unary("x", failWithCode: 14) }
            do {
                _ = try await caller.unary("x", failWithCode: 14)
            } catch let error as RPCError {
                #expect(error.code == .unavailable)
            }
            let stats = try await statsOf(server)
            #expect(stats["grpc_calls"] as? Int == 4)
        }
    }
}

@Suite("Load generator")
struct LoadGeneratorTests {
    @Test func closedLoopCountsStatusesAndVersions() async throws {
        try await withServer({ $0.faults = FaultSettings(failPercent: 50, failCode: 503) }) { server in
            let url = try HTTPURL(parsing: "http://127.0.0.1:\(server.httpAddress.port)/")
            let report = try await LoadGenerator.run(LoadConfiguration(url: url, requests: 200, concurrency: 4, warmup: 10))
            #expect(report.completed == 200)
            #expect(report.errors.isEmpty)
            // 210 requests reached the spread plan: 105 failures; the warm-up's 10 had 5.
            #expect(report.statuses == [200: 100, 503: 100])
            #expect(report.versions == ["v2": 200])
            #expect(report.latency.count == 200)
            #expect(report.latency.p50 > 0 && report.latency.p50 <= report.latency.p99)
            #expect(server.stats.requestCount == 210)
        }
    }

    @Test("a front names the instances its calls reached; load counts them per NAME/VERSION")
    func countsTheUpstreamsAFrontReached() async throws {
        try await withServer({ $0.name = "back"; $0.version = "v1" }) { back in
            try await withServer({ $0.name = "ratings"; $0.version = "v3" }) { ratings in
                try await withServer({
                    $0.name = "front"
                    $0.calls = [
                        try! HTTPURL(parsing: "http://127.0.0.1:\(back.httpAddress.port)/"),
                        try! HTTPURL(parsing: "http://127.0.0.1:\(ratings.httpAddress.port)/"),
                    ]
                }) { front in
                    let url = try HTTPURL(parsing: "http://127.0.0.1:\(front.httpAddress.port)/")
                    let report = try await LoadGenerator.run(LoadConfiguration(url: url, requests: 20, concurrency: 2))
                    #expect(report.statuses == [200: 20])
                    #expect(report.upstreams == ["back/v1": 20, "ratings/v3": 20])
                    #expect(report.text().contains("x-ambit-upstream: back/v1=20 ratings/v3=20"), "\(report.text())")
                }
            }
        }
    }

    @Test func openLoopKeepsTheRateAndCountsLatencyFromTheDueTime() async throws {
        try await withServer { server in
            let url = try HTTPURL(parsing: "http://127.0.0.1:\(server.httpAddress.port)/")
            // 100 requests at 200/s are due over 0.495 s; the run cannot end sooner.
            let fast = try await LoadGenerator.run(LoadConfiguration(url: url, requests: 100, concurrency: 2, rate: 200))
            #expect(fast.completed == 100)
            #expect(fast.seconds >= 0.49)
            #expect(fast.seconds < 5)

            // One connection and a 50 ms backend at 100/s: requests queue behind each other,
            // so latency from the due time grows well past the 50 ms service time.
            let slow = try await LoadGenerator.run(LoadConfiguration(
                url: url, headers: [("x-testapp-delay-ms", "50")], requests: 20, concurrency: 1, rate: 100))
            #expect(slow.completed == 20)
            #expect(slow.service.p50 >= 50_000 && slow.service.p50 < 200_000)
            #expect(slow.latency.max > 500_000, "the last request was due at 190 ms and answered after about 1 s")
        }
    }

    @Test func unreachableTargetEndsWithErrorsCounted() async throws {
        let url = try HTTPURL(parsing: "http://127.0.0.1:1/")
        let report = try await LoadGenerator.run(LoadConfiguration(url: url, requests: 5, concurrency: 2))
        #expect(report.completed == 0)
        #expect(report.errors.values.reduce(0, +) == 5)
    }
}

@Suite("Load generator headers")
struct LoadGeneratorHeaderTests {
    @Test func aHostHeaderReplacesTheURLsInsteadOfDoublingIt() async throws {
        try await withServer { server in
            let url = try HTTPURL(parsing: "http://127.0.0.1:\(server.httpAddress.port)/")
            let report = try await LoadGenerator.run(LoadConfiguration(url: url, headers: [("Host", "svc.example")], requests: 3))
            // The server answers 400 to a request with two Host headers (RFC 9112 §3.2).
            #expect(report.statuses == [200: 3])
        }
    }
}
