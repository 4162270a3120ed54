/// The error AmbitCore throws. Like every Ambit module error, it is a struct around a
/// code, so new cases never break callers, and its message says what to do next.
public struct CoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public static let invalidSpiffeID = Code("invalidSpiffeID")
        public static let invalidAddress = Code("invalidAddress")
        public var description: String { name }
    }

    public let code: Code
    /// What was wrong, in words a person can act on.
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func invalidSpiffeID(_ text: String, _ reason: String) -> CoreError {
        CoreError(code: .invalidSpiffeID, message: "invalid SPIFFE ID '\(text)': \(reason)")
    }
}
