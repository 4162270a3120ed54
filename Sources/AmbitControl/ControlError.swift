/// Why the control plane refused or failed something. Messages say what to do next.
public struct ControlError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        case unauthorized
        case invalid
        case conflict
        case notFound
        case storage
        case unavailable
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
