import AmbitAPI
import Glibc

/// Reads one path of a data-plane process's admin endpoint (127.0.0.1:15000 by default):
/// its own account of what it runs, for when the control plane cannot be asked.
///
/// A blocking HTTP/1.0 GET over one socket: the admin server closes after answering a
/// request without keep-alive, so the body is everything up to EOF.
enum LocalAdmin {
    static func get(host: String, port: Int, path: String) throws -> String {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw AdminClientError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw AdminClientError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw AdminClientError(
                "cannot reach the admin endpoint at \(host):\(port) (\(String(cString: strerror(errno)))); run this on the node itself, "
                    + "and pass --admin if the process was started with another --admin")
        }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { throw AdminClientError("cannot send to \(host):\(port)") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 { throw AdminClientError("reading from \(host):\(port): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw AdminClientError("\(host):\(port) sent no HTTP response") }
        let statusLine = text[..<split.lowerBound].prefix { $0 != "\r" }
        let body = String(text[split.upperBound...])
        guard statusLine.split(separator: " ").dropFirst().first == "200" else {
            throw AdminClientError("\(host):\(port)\(path) answered \(statusLine): \(body)")
        }
        return body
    }
}
