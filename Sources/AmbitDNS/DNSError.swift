/// The error AmbitDNS throws. Like every Ambit module error it is a struct around a code,
/// so new cases never break callers, and its message names what was wrong and where (for a
/// malformed message, the byte offset and the section being read), so a person reading a
/// log line can find the bad packet or the bad configuration entry.
public struct DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        // A private enum keeps the set closed inside the module while callers only see
        // static members, so adding a case is not a source break for anyone switching.
        private enum Kind: String, Hashable, Sendable {
            case malformedMessage, invalidName, invalidAddress, upstreamFailed
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// A DNS message could not be parsed: truncated, a bad label, a bad compression pointer.
        public static let malformedMessage = Code(.malformedMessage)
        /// A host name given as text is not a valid DNS name (empty label, label over 63
        /// bytes, name over 255 bytes).
        public static let invalidName = Code(.invalidName)
        /// An address given for a mesh name is neither IPv4 nor IPv6.
        public static let invalidAddress = Code(.invalidAddress)
        /// No upstream resolver answered in time, or none could be reached.
        public static let upstreamFailed = Code(.upstreamFailed)

        public var description: String { kind.rawValue }
    }

    public let code: Code
    /// What was wrong, in words a person can act on.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func malformed(_ message: String) -> DNSError { DNSError(.malformedMessage, message) }
}
