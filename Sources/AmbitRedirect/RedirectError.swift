/// Why redirection work failed. Messages name the namespace and say what to check.
public struct RedirectError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        case namespaceUnavailable
        case system
        case rulesRejected
        case connectFailed
        case timedOut
        case noOriginalDestination
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

#if canImport(Glibc)
import Glibc

/// `strerror` text for `errno`, for messages.
func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
#endif
