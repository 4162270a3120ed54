/// The error AmbitTunnel throws. The message names what failed and the usual cause, so a
/// person reading a log line knows where to look next.
public struct TunnelError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// TCP to the HBONE port failed (refused, timed out, unreachable).
        public static let connectFailed = Code("connectFailed")
        /// The TLS handshake failed: wrong identity, untrusted CA, expired certificate.
        public static let tlsFailed = Code("tlsFailed")
        /// The peer answered 400: it could not parse our CONNECT.
        public static let badRequest = Code("badRequest")
        /// The peer answered 401: an authorization policy denied the connection.
        public static let denied = Code("denied")
        /// The peer answered 503: unknown destination or the upstream could not be dialled.
        public static let unavailable = Code("unavailable")
        /// The peer answered something else, reset the stream, or closed the connection.
        public static let protocolError = Code("protocolError")
        /// A local limit or configuration stopped the request.
        public static let configuration = Code("configuration")
        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
