import AmbitTesting

/// Just enough HTTP/1.1 over a `BlockingSocket` to check what the admin server sends,
/// byte for byte, including on connections the server keeps open.
struct RawResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

extension BlockingSocket {
    /// Reads one response: the head byte by byte up to the blank line, then exactly
    /// Content-Length bytes, so whatever follows stays unread on the socket.
    func readResponse() throws -> RawResponse {
        var head: [UInt8] = []
        while !head.ends(with: Array("\r\n\r\n".utf8)) {
            head += try read(exactly: 1)
        }
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
            let status = Int(statusLine.dropFirst(9).prefix(3))
        else { throw TestFailure("not an HTTP/1.1 status line: \(lines.first ?? "")") }
        let headers = lines.dropFirst().map { line -> (name: String, value: String) in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            return (String(line[..<colon]), String(line[colon...].dropFirst().drop { $0 == " " }))
        }
        var response = RawResponse(status: status, headers: headers, body: "")
        let length = Int(response.header("Content-Length") ?? "") ?? 0
        response.body = String(decoding: try read(exactly: length), as: UTF8.self)
        return response
    }

    /// True when the server has closed: the next read sees EOF with nothing before it.
    func seesEOF() throws -> Bool {
        try readToEnd(limit: 1).isEmpty
    }
}

extension Array where Element: Equatable {
    func ends(with suffix: [Element]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

/// A GET with the headers every test needs.
func get(_ path: String, close: Bool = false) -> String {
    "GET \(path) HTTP/1.1\r\nHost: admin\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n"
}
