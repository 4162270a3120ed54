// Addresses as the command line gives them: `ADDR:PORT` to listen on or dial, and plain
// `http://host:port/path` URLs to call. Parsed once at start-up, never per request.

/// A host (IPv4, bracketed IPv6 or name) and a port.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8080`, `[::1]:8080` or `name:8080`.
    public init(parsing text: String) throws {
        guard let colon = text.lastIndex(of: ":") else {
            throw TestAppError("'\(text)' has no port: write ADDR:PORT, e.g. 127.0.0.1:8080")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw TestAppError("'\(text)' has no address: write ADDR:PORT, e.g. 127.0.0.1:8080") }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw TestAppError("'\(text)' has no valid port (0–65535 after the last ':')")
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// An `http://` URL: where to connect, what to put in `Host`, and the request target.
public struct HTTPURL: Sendable, Equatable, CustomStringConvertible {
    public var endpoint: HostPort
    /// Path and query, starting with "/".
    public var target: String
    public var description: String { "http://\(endpoint)\(target)" }

    public init(parsing text: String) throws {
        guard text.hasPrefix("http://") else {
            throw TestAppError("'\(text)' is not an http:// URL (https is not supported: put the mesh's mTLS in between instead)")
        }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        target = slash == rest.endIndex ? "/" : String(rest[slash...])
        endpoint = authority.contains(":") && !authority.hasSuffix("]")
            ? try HostPort(parsing: authority) : try HostPort(parsing: authority + ":80")
    }

    /// The `Host` header: the authority as written (default port left out).
    public var hostHeader: String {
        guard endpoint.port == 80 else { return endpoint.description }
        return endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
    }
}

/// The module's one error type: a message that says what to do next.
public struct TestAppError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}
