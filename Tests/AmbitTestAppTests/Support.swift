// Helpers for the in-process tests: a server on a loopback port, a blocking raw socket for
// bytes the NIO client would never send (chunked bodies, WebSocket frames), an h2c client.
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

@testable import AmbitTestApp

#if canImport(Glibc)
import Glibc
#endif

func withServer<R>(
    _ configure: (inout ServeConfiguration) -> Void = { _ in },
    _ body: (TestAppServer) async throws -> R
) async throws -> R {
    var configuration = ServeConfiguration(listen: HostPort(host: "127.0.0.1", port: 0), name: "back", version: "v2")
    configure(&configuration)
    let server = try await TestAppServer.start(configuration)
    do {
        let result = try await body(server)
        await server.shutdown()
        return result
    } catch {
        await server.shutdown()
        throw error
    }
}

/// One keep-alive HTTP/1.1 connection on a loop of its own, for sequential requests.
final class TestClient: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let connection: HTTP1ClientConnection

    init(_ server: TestAppServer) async throws {
        connection = try await HTTP1ClientConnection.connect(to: server.httpAddress, on: group.next(), keepBody: true).get()
    }

    func get(_ target: String, headers: [(String, String)] = [], method: HTTPMethod = .GET, body: String? = nil) async throws -> ClientResponse {
        var h = HTTPHeaders([("host", "test")])
        for (k, v) in headers { h.add(name: k, value: v) }
        let connection = self.connection
        let headersCopy = h
        return try await connection.channel.eventLoop.flatSubmit {
            connection.send(method: method, target: target, headers: headersCopy, body: body.map { ByteBuffer(string: $0) })
        }.get()
    }

    func close() async throws {
        try? await connection.channel.close()
        try await group.shutdownGracefully()
    }
}

extension ClientResponse {
    var json: [String: Any] {
        get throws {
            guard let body else { throw TestAppError("no body") }
            let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
            guard let dict = object as? [String: Any] else { throw TestAppError("not an object") }
            return dict
        }
    }
    var text: String { body.map { String(buffer: $0) } ?? "" }
}

func statsOf(_ server: TestAppServer) async throws -> [String: Any] {
    let client = try await TestClient(server)
    defer { Task { try? await client.close() } }
    return try await client.get("/stats").json
}

/// A blocking TCP socket to 127.0.0.1 with a receive timeout.
final class RawSocket {
    private let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw TestAppError("connect failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestAppError("send failed: errno \(errno)") }
            offset += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads until `done` says the bytes so far are complete (or the peer closes / times out).
    func receive(until done: ([UInt8]) -> Bool) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while !done(out) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }
}

/// Reads one HTTP/1.1 response with a content-length body from raw bytes.
func parseResponse(_ bytes: [UInt8]) -> (head: String, body: [UInt8])? {
    let sep = Array("\r\n\r\n".utf8)
    guard let end = (0...(max(0, bytes.count - 4))).first(where: { bytes.count >= $0 + 4 && Array(bytes[$0..<$0 + 4]) == sep }) else { return nil }
    let head = String(decoding: bytes[0..<end], as: UTF8.self)
    let lengthLine = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
    let length = lengthLine.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
    let bodyStart = end + 4
    guard bytes.count >= bodyStart + length else { return nil }
    return (head, Array(bytes[bodyStart..<bodyStart + length]))
}

/// Sends one GET over HTTP/2 with prior knowledge and returns status, headers and body.
func h2cGet(port: Int, path: String, headers: [(String, String)] = []) async throws -> ClientResponse {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { group.shutdownGracefully { _ in } }
    let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
    let loop = channel.eventLoop
    let responsePromise = loop.makePromise(of: ClientResponse.self)
    let stream = try await loop.flatSubmit { () -> EventLoopFuture<Channel> in
        do {
            let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
            ) { $0.eventLoop.makeSucceededVoidFuture() }
            let streamPromise = loop.makePromise(of: Channel.self)
            multiplexer.createStreamChannel(promise: streamPromise) { stream in
                stream.eventLoop.makeCompletedFuture {
                    let collector = ResponseCollector(keepBody: true)
                    collector.expect(responsePromise)
                    try stream.pipeline.syncOperations.addHandlers([HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http), collector])
                }
            }
            return streamPromise.futureResult
        } catch {
            return loop.makeFailedFuture(error)
        }
    }.get()
    var h = HTTPHeaders([("host", "test")])
    for (k, v) in headers { h.add(name: k, value: v) }
    let head = HTTPRequestHead(version: .http2, method: .GET, uri: path, headers: h)
    stream.write(HTTPClientRequestPart.head(head), promise: nil)
    try await stream.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
    let response = try await responsePromise.futureResult.get()
    try await channel.close()
    return response
}
