import AmbitCore
import NIOHTTP1

/// One request as the router sees it: method, target (path and query), headers and the
/// service port it was sent to (the port of the `:authority` the node put on the HBONE
/// CONNECT, since inside the tunnel the Host header may carry none).
///
/// The derived parts (path, query, host, gRPC method) are computed once here, so matching
/// many rules against one request does not re-parse it.
public struct RouteRequest: Sendable {
    public let method: HTTPMethod
    /// The request target as received: `/path?query`.
    public let uri: String
    public let headers: HTTPHeaders
    /// The destination service port.
    public let port: Int
    /// `http` inside the mesh: the tunnel, not the request, is what is encrypted.
    public let scheme: String

    /// `uri` up to `?` (and without a `#fragment`).
    public let path: Substring
    /// After the `?`, without it; nil when there is none.
    public let query: Substring?
    /// The Host header (HTTP/2's `:authority`) lower-cased, without its port; empty if absent.
    public let host: String
    /// `content-type: application/grpc…`.
    public let isGRPC: Bool

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders, port: Int, scheme: String = "http") {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.port = port
        self.scheme = scheme
        let target = uri.prefix { $0 != "#" }
        if let q = target.firstIndex(of: "?") {
            path = target[..<q]
            query = target[target.index(after: q)...]
        } else {
            path = target
            query = nil
        }
        host = HostHeader.hostWithoutPort(Self.asciiLowercased(headers.first(name: "host") ?? ""))
        isGRPC = headers.first(name: "content-type").map { Self.hasASCIIPrefixIgnoringCase($0, "application/grpc") } ?? false
    }

    /// `lowercased()` without a new string when there is nothing to lower (the usual
    /// Host): this runs for every request.
    static func asciiLowercased(_ s: String) -> String {
        s.utf8.allSatisfy { $0 < 0x80 && !(0x41...0x5A).contains($0) } ? s : s.lowercased()
    }

    /// Case-insensitive ASCII prefix test (`prefix` lower-case), without lower-casing a copy.
    static func hasASCIIPrefixIgnoringCase(_ s: String, _ prefix: StaticString) -> Bool {
        let p = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        var i = 0
        for byte in s.utf8 {
            guard i < p.count else { return true }
            let lower = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
            guard lower == p[i] else { return false }
            i += 1
        }
        return i == p.count
    }

    /// From a decoded request head (HTTP/1.1, or HTTP/2 through NIO's HTTP/1 codec, which
    /// turns `:authority` into `host`).
    public init(head: HTTPRequestHead, port: Int, scheme: String = "http") {
        self.init(method: head.method, uri: head.uri, headers: head.headers, port: port, scheme: scheme)
    }

    /// `/pkg.Service/Method` → (`pkg.Service`, `Method`); nil when the path is not a gRPC one.
    var grpcMethod: (service: Substring, method: Substring)? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }

    /// A header's values joined with commas, as Envoy compares a repeated header.
    func headerValue(_ name: String) -> String? {
        let values = headers[name]
        return values.isEmpty ? nil : values.joined(separator: ",")
    }

    /// The first value of a query parameter (names compare exactly, as Gateway API says).
    func queryValue(_ name: String) -> Substring? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") {
            let eq = pair.firstIndex(of: "=") ?? pair.endIndex
            if pair[..<eq] == name { return eq == pair.endIndex ? "" : pair[pair.index(after: eq)...] }
        }
        return nil
    }
}
