/// A `host:port` pair as HTTP `:authority` and command-line flags write it.
/// IPv6 hosts are bracketed (`[::1]:8080`), as RFC 3986 requires.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init(parsing text: String) throws(CoreError) {
        func bad(_ reason: String) -> CoreError {
            CoreError(code: .invalidAddress, message: "invalid address '\(text)': \(reason); expected HOST:PORT, e.g. 10.0.0.5:8080 or [fd00::5]:8080")
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("the '[' of an IPv6 host is not closed") }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { throw bad("the port is missing") }
            portText = after.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw bad("the port is missing") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw bad("an IPv6 host must be written in brackets") }
        }
        guard !host.isEmpty else { throw bad("the host is empty") }
        if host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) { throw bad("the host holds a space, '/' or '@'") }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
            (1...65535).contains(port)
        else { throw bad("the port must be a number from 1 to 65535") }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
