// The test app as other tests will use it: a real server on a loopback port, driven by
// real clients (NIO HTTP/1.1, h2c, raw sockets, gRPC).
import Foundation
import NIOCore
import NIOHTTP1
import Testing

@testable import AmbitTestApp

@Suite("Test app server")
struct ServerTests {
    @Test func keepAliveCarriesManyRequestsAndTheReportSaysWhoAnsweredWhat() async throws {
        try await withServer { server in
            let client = try await TestClient(server)
            let first = try await client.get("/hello?x=1", headers: [("x-custom", "a"), ("X-Custom", "b"), ("traceparent", "00-abc-def-01")])
            let second = try await client.get("/again")
            try await client.close()

            #expect(first.status == 200)
            #expect(first.headers.first(name: "x-ambit-version") == "v2")
            #expect(first.headers.first(name: "x-ambit-name") == "back")
            let report = try first.json
            #expect(report["name"] as? String == "back")
            #expect(report["version"] as? String == "v2")
            #expect(report["method"] as? String == "GET")
            #expect(report["path"] as? String == "/hello?x=1")
            #expect(report["protocol"] as? String == "HTTP/1.1")
            #expect(report["request"] as? Int == 1)
            let headers = try #require(report["headers"] as? [String: String])
            #expect(headers["x-custom"] == "a, b")
            #expect(headers["traceparent"] == "00-abc-def-01")
            #expect(try second.json["request"] as? Int == 2)
            #expect(second.headers.first(name: "x-testapp-request") == "2")

            let stats = try await statsOf(server)
            #expect(stats["requests"] as? Int == 2, "the /stats request itself is not counted")
            // Two requests on one connection, then the stats client's own connection.
            #expect(stats["connections"] as? Int == 2)
            #expect((stats["by_status"] as? [String: Int])?["200"] == 2)
        }
    }

    @Test func chunkedRequestBodyIsEchoed() async throws {
        try await withServer { server in
            let socket = try RawSocket(port: server.httpAddress.port)
            try socket.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/x-test\r\n\r\n")
            try socket.send("5\r\nhello\r\n")
            try socket.send("7\r\n, world\r\n0\r\n\r\n")
            let bytes = try socket.receive { parseResponse($0) != nil }
            let response = try #require(parseResponse(bytes))
            #expect(response.head.hasPrefix("HTTP/1.1 200"))
            #expect(response.head.lowercased().contains("content-type: text/x-test"))
            #expect(String(decoding: response.body, as: UTF8.self) == "hello, world")
        }
    }

    @Test func largeBodyIsEchoedAndCounted() async throws {
        try await withServer { server in
            let client = try await TestClient(server)
            let body = String(repeating: "0123456789abcdef", count: 64 * 1024)  // 1 MiB
            let response = try await client.get("/echo", method: .POST, body: body)
            #expect(response.status == 200)
            #expect(response.bodyBytes == body.utf8.count)
            #expect(response.text == body)
            let report = try await client.get("/report", method: .PUT, body: "12345").json
            #expect(report["body_bytes"] as? Int == 5)
            #expect(report["method"] as? String == "PUT")
            try await client.close()
        }
    }

    @Test func h2cPriorKnowledgeOnTheSamePort() async throws {
        try await withServer { server in
            let response = try await h2cGet(port: server.httpAddress.port, path: "/h2", headers: [("x-envoy-attempt-count", "2")])
            #expect(response.status == 200)
            #expect(response.headers.first(name: "x-ambit-version") == "v2")
            let report = try response.json
            #expect(report["protocol"] as? String == "HTTP/2")
            #expect((report["headers"] as? [String: String])?["x-envoy-attempt-count"] == "2")
            let stats = try await statsOf(server)
            #expect(stats["http2_connections"] as? Int == 1)
            #expect((stats["by_attempt"] as? [String: Int])?["2"] == 1)
        }
    }

    @Test func fiftyPercentFailsExactlyEveryOtherRequest() async throws {
        try await withServer({ $0.faults = FaultSettings(failPercent: 50, failCode: 503) }) { server in
            let client = try await TestClient(server)
            var statuses: [Int] = []
            for _ in 0..<10 { statuses.append(try await client.get("/").status) }
            try await client.close()
            #expect(statuses == [503, 200, 503, 200, 503, 200, 503, 200, 503, 200])
            let stats = try await statsOf(server)
            #expect(stats["injected_failures"] as? Int == 5)
            #expect((stats["by_status"] as? [String: Int]) == ["200": 5, "503": 5])
        }
    }

    @Test func perRequestHeadersOverrideStatusDelayAndAttempts() async throws {
        try await withServer { server in
            let client = try await TestClient(server)
            let failed = try await client.get("/", headers: [("x-testapp-status", "503")])
            #expect(failed.status == 503)
            #expect(try failed.json["injected"] as? Bool == true)

            let started = ContinuousClock.now
            let slow = try await client.get("/", headers: [("x-testapp-delay-ms", "300")])
            #expect(slow.status == 200)
            #expect(ContinuousClock.now - started >= .milliseconds(300))

            let attempts = ["1", "2", "3"].map { [("x-testapp-status", "502"), ("x-testapp-fail-attempts", "2"), ("x-envoy-attempt-count", $0)] }
            var statuses: [Int] = []
            for headers in attempts { statuses.append(try await client.get("/", headers: headers).status) }
            #expect(statuses == [502, 502, 200])

            let sized = try await client.get("/", headers: [("x-testapp-body-bytes", "1024")])
            #expect(sized.bodyBytes == 1024)

            let twoHosts = try await client.get("/", headers: [("host", "again")])
            #expect(twoHosts.status == 400)

            let bad = try await client.get("/", headers: [("x-testapp-status", "abc")])
            #expect(bad.status == 400)
            #expect(bad.text.contains("x-testapp-status"))
            try await client.close()

            let stats = try await statsOf(server)
            #expect(stats["requests"] as? Int == 6, "the rejected request is not counted")
            #expect((stats["by_attempt"] as? [String: Int]) == ["1": 4, "2": 1, "3": 1])
        }
    }

    @Test func statsReset() async throws {
        try await withServer { server in
            let client = try await TestClient(server)
            _ = try await client.get("/")
            #expect(try await client.get("/stats/reset", method: .POST).status == 200)
            let stats = try await client.get("/stats").json
            try await client.close()
            #expect(stats["requests"] as? Int == 0)
        }
    }

    @Test func bodyBytesFlagAnswersWithFiller() async throws {
        try await withServer({ $0.bodyBytes = 1000 }) { server in
            let client = try await TestClient(server)
            let response = try await client.get("/")
            try await client.close()
            #expect(response.bodyBytes == 1000)
            #expect(response.headers.first(name: "x-ambit-version") == "v2")
        }
    }

    @Test func frontCallsBackAndPassesTheTraceOn() async throws {
        try await withServer { back in
            try await withServer({
                $0.name = "front"
                $0.version = "v1"
                $0.calls = [try! HTTPURL(parsing: "http://127.0.0.1:\(back.httpAddress.port)/api")]
            }) { front in
                let client = try await TestClient(front)
                let response = try await client.get("/", headers: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
                try await client.close()
                #expect(response.status == 200)
                let report = try response.json
                #expect(report["name"] as? String == "front")
                let calls = try #require(report["calls"] as? [[String: Any]])
                #expect(calls.count == 1)
                #expect(calls[0]["status"] as? Int == 200)
                let backReport = try #require(calls[0]["response"] as? [String: Any])
                #expect(backReport["name"] as? String == "back")
                #expect(backReport["path"] as? String == "/api")
                #expect((backReport["headers"] as? [String: String])?["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            }
        }
    }

    @Test func frontAnswers502WhenItsBackendIsDown() async throws {
        try await withServer({ $0.calls = [try! HTTPURL(parsing: "http://127.0.0.1:1/")] }) { front in
            let client = try await TestClient(front)
            let response = try await client.get("/")
            try await client.close()
            #expect(response.status == 502)
            let calls = try #require(try response.json["calls"] as? [[String: Any]])
            #expect(calls[0]["status"] as? Int == 0)
            #expect(calls[0]["error"] is String)
        }
    }
}
