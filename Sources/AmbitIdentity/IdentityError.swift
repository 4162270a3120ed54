/// The error AmbitIdentity throws: a code to switch on and a message that tells a person
/// what to do next.
public struct IdentityError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// A file could not be read, parsed or written.
        public static let file = Code("file")
        /// A CSR was malformed, badly signed or asked for something the CA does not issue.
        public static let invalidCSR = Code("invalidCSR")
        /// The caller is not allowed the identity it asked for.
        public static let unauthorized = Code("unauthorized")
        /// A peer certificate failed verification.
        public static let verification = Code("verification")
        /// No certificate could be obtained for an identity.
        public static let unavailable = Code("unavailable")
        /// A configuration value is wrong.
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
