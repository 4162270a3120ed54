/// The error AmbitTelemetry throws. Like every Ambit module error it is a struct around a
/// code, so new cases never break callers, and its message says what to do next.
public struct TelemetryError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// The admin server could not bind or adopt its listening socket.
        public static let bindFailed = Code("bindFailed")
        /// An access-log file could not be opened.
        public static let openFailed = Code("openFailed")
        public var description: String { name }
    }

    public let code: Code
    /// What was wrong, in words a person can act on.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
