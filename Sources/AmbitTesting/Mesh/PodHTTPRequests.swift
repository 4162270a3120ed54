import Crypto
import Foundation

/// One HTTP/1.1 response as a test reads it, with how long it took.
public struct TestHTTPResponse: Sendable, CustomStringConvertible {
    public var status: Int
    /// Lower-case names.
    public var headers: [(name: String, value: String)]
    public var body: String
    public var seconds: Double

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    public var description: String { "\(status) after \(Int(seconds * 1000)) ms, \(headers.map { "\($0.name): \($0.value)" }), body \(body.prefix(300))" }

    /// Parses a whole `Connection: close` response (no chunked bodies: the waypoint and the
    /// testapp both send a Content-Length, and the raw text is kept anyway).
    init(raw: [UInt8], seconds: Double) throws {
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("malformed HTTP response: \(text.prefix(300))") }
        let lines = text[..<split.lowerBound].split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
            throw TestFailure("malformed status line: \(statusLine)")
        }
        status = code
        headers = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        body = String(text[split.upperBound...])
        self.seconds = seconds
    }
}

extension Topology.Pod {
    /// Sends one request (`Connection: close`) from inside the pod, as its app would, and
    /// reads the whole response.
    public func httpRequest(
        to host: String, port: Int = 80, method: String = "GET", path: String, hostHeader: String? = nil,
        headers: [String: String] = [:], body: String = "", receiveTimeoutSeconds: Int = 15
    ) async throws -> TestHTTPResponse {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(hostHeader ?? host)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request += "\(name): \(value)\r\n" }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + body
        let text = request
        let started = Date()
        let socket = try await connect(to: host, port: port, receiveTimeoutSeconds: receiveTimeoutSeconds)
        let raw = try await BlockingSocket.run {
            try socket.send(text)
            return try socket.readToEnd()
        }
        return try TestHTTPResponse(raw: raw, seconds: Date().timeIntervalSince(started))
    }

    /// Opens a WebSocket to `host:port` `path` (RFC 6455 handshake, checking
    /// `Sec-WebSocket-Accept`), sends each message as a masked text frame and returns the
    /// text frames that come back, one per message, then closes.
    public func webSocketExchange(to host: String, port: Int = 80, path: String = "/ws", messages: [String]) async throws -> [String] {
        var keyBytes = [UInt8](repeating: 0, count: 16)
        for i in keyBytes.indices { keyBytes[i] = UInt8.random(in: 0...255) }
        let key = Data(keyBytes).base64EncodedString()
        let expectedAccept = Data(Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        let socket = try await connect(to: host, port: port)
        return try await BlockingSocket.run {
            try socket.send(
                "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n")
            // The handshake answer, byte by byte: the frames follow right behind it.
            var head: [UInt8] = []
            while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
                head += try socket.read(exactly: 1)
                if head.count > 16_384 { throw TestFailure("no end of the WebSocket handshake answer") }
            }
            let response = try TestHTTPResponse(raw: head, seconds: 0)
            guard response.status == 101 else { throw TestFailure("WebSocket upgrade refused: \(response)") }
            guard response.header("sec-websocket-accept") == expectedAccept else {
                throw TestFailure("Sec-WebSocket-Accept is \(response.header("sec-websocket-accept") ?? "missing"), expected \(expectedAccept)")
            }
            var replies: [String] = []
            for message in messages {
                try socket.send(Self.maskedFrame(opcode: 0x1, payload: Array(message.utf8)))
                let header = try socket.read(exactly: 2)
                guard header[0] & 0x0f == 0x1 else { throw TestFailure("expected a text frame back, got opcode \(header[0] & 0x0f)") }
                var length = Int(header[1] & 0x7f)
                if length == 126 {
                    let ext = try socket.read(exactly: 2)
                    length = Int(ext[0]) << 8 | Int(ext[1])
                } else if length == 127 {
                    throw TestFailure("unexpectedly long WebSocket frame")
                }
                replies.append(String(decoding: try socket.read(exactly: length), as: UTF8.self))
            }
            try socket.send(Self.maskedFrame(opcode: 0x8, payload: [0x03, 0xe8]))
            return replies
        }
    }

    /// A client frame (clients must mask, RFC 6455 §5.3), payloads under 64 KiB.
    static func maskedFrame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        return frame
    }
}

extension BlockingSocket {
    public func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try send($0) }
    }
}
