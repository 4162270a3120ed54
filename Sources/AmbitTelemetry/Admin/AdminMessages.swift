import NIOCore

/// An HTTP method name, kept as text so the admin API does not leak NIOHTTP1 types.
public struct AdminMethod: Hashable, Sendable, RawRepresentable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public static let get: AdminMethod = "GET"
    public static let post: AdminMethod = "POST"
    public static let put: AdminMethod = "PUT"
    public static let delete: AdminMethod = "DELETE"
    public var description: String { rawValue }
}

/// A complete admin request: the body has been read in full (up to the server's limit)
/// before the handler runs.
public struct AdminRequest: Sendable {
    public var method: AdminMethod
    /// The path without the query string, as sent (not percent-decoded), e.g. `/metrics`.
    public var path: String
    /// Query parameters in order, percent-decoded (`+` is a space). `?flag` gives `("flag", "")`.
    public var queryItems: [(name: String, value: String)]
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The client's address, when the socket knows it; admin handlers that change state may
    /// want to accept only loopback callers.
    public var remoteAddress: SocketAddress?

    public init(
        method: AdminMethod, path: String, queryItems: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: [UInt8] = [], remoteAddress: SocketAddress? = nil
    ) {
        self.method = method
        self.path = path
        self.queryItems = queryItems
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The first query parameter named `name` (case-sensitive, as URLs are).
    public func query(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What a handler answers. The server adds `Content-Length` (and `Connection: close` when
/// it will close), so handlers set neither.
public struct AdminResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A UTF-8 text body, `text/plain` unless told otherwise.
    public static func text(
        _ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8"
    ) -> AdminResponse {
        AdminResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }

    /// A body that is already JSON text.
    public static func json(_ json: String, status: Int = 200) -> AdminResponse {
        text(json, status: status, contentType: "application/json")
    }

    /// The first header named `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

/// What a readiness check reports for `/healthz/ready`.
public enum Readiness: Sendable, Equatable {
    case ready
    /// Not ready yet, and why (e.g. "no certificate for the node identity yet").
    case notReady(reason: String)
}
