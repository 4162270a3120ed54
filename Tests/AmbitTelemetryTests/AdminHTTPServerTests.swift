#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AmbitTesting
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import AmbitTelemetry

/// The admin server over real loopback sockets, spoken to in raw HTTP so every header and
/// every close is visible.
@Suite(.timeLimit(.minutes(2)))
struct AdminHTTPServerTests {
    let group = MultiThreadedEventLoopGroup.singleton

    /// A server with /metrics, readiness and an echo route; `ready` flips readiness.
    func startServer(
        registry: MetricsRegistry = MetricsRegistry(), ready: NIOLockedValueBox<Bool> = NIOLockedValueBox(true)
    ) async throws -> AdminHTTPServer {
        let routes = AdminRoutes()
        routes.registerMetrics(registry)
        routes.registerReadiness { ready.withLockedValue { $0 } ? .ready : .notReady(reason: "no certificate yet") }
        routes.register(.post, "/echo") { request in
            let query = request.queryItems.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
            return .text("\(request.method) \(request.path) [\(query)] \(request.header("x-test") ?? "-") \(request.bodyText)")
        }
        return try await AdminHTTPServer.bind(host: "127.0.0.1", port: 0, group: group, routes: routes)
    }

    // MARK: - Routes

    @Test func metricsEndpointServesTheExposition() async throws {
        let registry = MetricsRegistry()
        registry.counter("istio_tcp_connections_opened_total", help: "Opened.", labels: ["reporter"])
            .labels(["destination"]).increment(by: 5)
        let server = try await startServer(registry: registry)
        let port = server.port
        let response = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send(get("/metrics", close: true))
            return try socket.readResponse()
        }
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.header("Connection") == "close")
        #expect(response.body == registry.exposition())
        #expect(response.body.contains("istio_tcp_connections_opened_total{reporter=\"destination\"} 5\n"))
        await server.close()
    }

    @Test func unknownPathGets404ListingThePaths() async throws {
        let server = try await startServer()
        let port = server.port
        let response = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send(get("/nope", close: true))
            return try socket.readResponse()
        }
        #expect(response.status == 404)
        #expect(response.body == "not found: /nope\navailable paths:\n  /echo\n  /healthz/ready\n  /metrics\n")
        await server.close()
    }

    @Test func wrongMethodGets405WithAllow() async throws {
        let server = try await startServer()
        let port = server.port
        let response = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send("DELETE /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
            return try socket.readResponse()
        }
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET")
        await server.close()
    }

    @Test func handlerSeesMethodPathQueryHeadersAndBody() async throws {
        let server = try await startServer()
        let port = server.port
        let response = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send(
                "POST /echo?name=a%20b+c&flag HTTP/1.1\r\nHost: admin\r\nX-Test: yes\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            return try socket.readResponse()
        }
        #expect(response.status == 200)
        #expect(response.body == "POST /echo [name=a b c&flag=] yes hello")
        await server.close()
    }

    @Test func readinessFollowsTheCheck() async throws {
        let ready = NIOLockedValueBox(false)
        let server = try await startServer(ready: ready)
        let port = server.port
        let fetch = {
            try await BlockingSocket.run {
                let socket = try BlockingSocket(connectTo: port)
                try socket.send(get("/healthz/ready", close: true))
                return try socket.readResponse()
            }
        }
        let before = try await fetch()
        #expect(before.status == 503 && before.body == "not ready: no certificate yet\n")
        ready.withLockedValue { $0 = true }
        let after = try await fetch()
        #expect(after.status == 200 && after.body == "ready\n")
        await server.close()
    }

    // MARK: - Connections

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let server = try await startServer()
        let port = server.port
        let statuses = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            var statuses: [Int] = []
            // One after the other...
            try socket.send(get("/metrics"))
            statuses.append(try socket.readResponse().status)
            try socket.send(get("/healthz/ready"))
            statuses.append(try socket.readResponse().status)
            // ...and pipelined in one write, answered in order; the last asks to close.
            try socket.send(get("/nope") + get("/healthz/ready", close: true))
            statuses.append(try socket.readResponse().status)
            let last = try socket.readResponse()
            statuses.append(last.status)
            guard try socket.seesEOF() else { throw TestFailure("connection stayed open after Connection: close") }
            return statuses
        }
        #expect(statuses == [200, 200, 404, 200])
        await server.close()
    }

    @Test func http10WithoutKeepAliveIsClosedAfterTheResponse() async throws {
        let server = try await startServer()
        let port = server.port
        let (status, closed) = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send("GET /healthz/ready HTTP/1.0\r\n\r\n")
            return (try socket.readResponse().status, try socket.seesEOF())
        }
        #expect(status == 200 && closed)
        await server.close()
    }

    @Test(arguments: [false, true])
    func oversizedBodyGets413(chunked: Bool) async throws {
        let server = try await startServer()
        let port = server.port
        let response = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            let size = (1 << 20) + 1
            let body = String(repeating: "a", count: size)
            if chunked {
                // No length up front: the limit must hold as the body grows.
                let chunk = String(repeating: "a", count: 65536)
                var request = "POST /echo HTTP/1.1\r\nHost: admin\r\nTransfer-Encoding: chunked\r\n\r\n"
                for _ in 0..<17 { request += "10000\r\n" + chunk + "\r\n" }
                try socket.send(request + "0\r\n\r\n")
            } else {
                try socket.send("POST /echo HTTP/1.1\r\nHost: admin\r\nContent-Length: \(size)\r\n\r\n" + body)
            }
            return try socket.readResponse()
        }
        #expect(response.status == 413)
        #expect(response.header("Connection") == "close")
        await server.close()
    }

    @Test func bodyAtTheLimitIsAccepted() async throws {
        let server = try await startServer()
        let port = server.port
        let response = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            let body = String(repeating: "b", count: 1 << 20)
            try socket.send("POST /echo HTTP/1.1\r\nHost: admin\r\nContent-Length: \(1 << 20)\r\nConnection: close\r\n\r\n" + body)
            return try socket.readResponse()
        }
        #expect(response.status == 200)
        #expect(response.body.hasSuffix(String(repeating: "b", count: 100)))
        await server.close()
    }

    @Test func malformedRequestGets400AndOnlyThatConnectionCloses() async throws {
        let server = try await startServer()
        let port = server.port
        let (bad, closed, good) = try await BlockingSocket.run {
            let bystander = try BlockingSocket(connectTo: port)
            try bystander.send(get("/healthz/ready"))
            _ = try bystander.readResponse()

            let socket = try BlockingSocket(connectTo: port)
            try socket.send("THIS IS NOT HTTP\r\n\r\n")
            let bad = try socket.readResponse()
            let closed = try socket.seesEOF()

            // The connection that was already open still works, and so do new ones.
            try bystander.send(get("/healthz/ready", close: true))
            let good = try bystander.readResponse()
            let fresh = try BlockingSocket(connectTo: port)
            try fresh.send(get("/metrics", close: true))
            guard try fresh.readResponse().status == 200 else { throw TestFailure("a new connection was not served") }
            return (bad.status, closed, good.status)
        }
        #expect(bad == 400)
        #expect(closed)
        #expect(good == 200)
        await server.close()
    }

    @Test func closeEndsOpenKeepAliveConnections() async throws {
        let server = try await startServer()
        let port = server.port
        let socket = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send(get("/healthz/ready"))
            _ = try socket.readResponse()
            return socket
        }
        await server.close()
        #expect(try await BlockingSocket.run { try socket.seesEOF() })
        await server.close()  // twice is fine
    }

    // MARK: - Binding

    @Test func servesOnAnAlreadyBoundSocket() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)

        let routes = AdminRoutes()
        routes.registerReadiness { .ready }
        let server = try await AdminHTTPServer.bind(socket: fd, group: group, routes: routes)
        #expect(server.port > 0)
        let port = server.port
        let status = try await BlockingSocket.run {
            let socket = try BlockingSocket(connectTo: port)
            try socket.send(get("/healthz/ready", close: true))
            return try socket.readResponse().status
        }
        #expect(status == 200)
        await server.close()
    }

    @Test func bindingABusyPortSaysSo() async throws {
        let first = try await startServer()
        await #expect {
            _ = try await AdminHTTPServer.bind(host: "127.0.0.1", port: first.port, group: group, routes: AdminRoutes())
        } throws: { error in
            (error as? TelemetryError)?.code == .bindFailed
        }
        await first.close()
    }
}
