/// A workload identity in the only form Ambit issues and accepts:
/// `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
///
/// Parsing is strict on purpose. The identity is the thing authorization decides on, so
/// two spellings of one identity (upper-case scheme, a trailing slash, a `..` segment)
/// would be two identities to a policy and one to a person reading it. Anything that is
/// not exactly the canonical form is rejected, and the error names the part that is wrong.
public struct SpiffeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let trustDomain: String
    public let namespace: String
    public let serviceAccount: String

    /// Builds an identity from parts, validating each one as `init(parsing:)` would.
    public init(trustDomain: String, namespace: String, serviceAccount: String) throws(CoreError) {
        try Self.validateTrustDomain(trustDomain, in: nil)
        try Self.validateSegment(namespace, part: "namespace", in: nil)
        try Self.validateSegment(serviceAccount, part: "service account", in: nil)
        self.trustDomain = trustDomain
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    /// Parses the canonical URI form.
    public init(parsing text: String) throws(CoreError) {
        let scheme = "spiffe://"
        guard text.utf8.count <= Self.maximumLength else {
            throw .invalidSpiffeID(text, "it is longer than \(Self.maximumLength) bytes")
        }
        guard text.hasPrefix(scheme) else {
            throw .invalidSpiffeID(text, "the scheme must be exactly 'spiffe://' (lower case)")
        }
        let rest = text.dropFirst(scheme.count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw .invalidSpiffeID(text, "the path is missing; expected /ns/<namespace>/sa/<service-account>")
        }
        let trustDomain = String(rest[..<slash])
        try Self.validateTrustDomain(trustDomain, in: text)
        let path = rest[slash...]
        if path.contains("?") || path.contains("#") {
            throw .invalidSpiffeID(text, "a query or fragment is not allowed")
        }
        // Split keeping empty pieces so `//` and a trailing `/` are caught as empty segments.
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 4, segments[0] == "ns", segments[2] == "sa" else {
            throw .invalidSpiffeID(
                text, "the path must be exactly /ns/<namespace>/sa/<service-account>, got '\(path)'")
        }
        try Self.validateSegment(String(segments[1]), part: "namespace", in: text)
        try Self.validateSegment(String(segments[3]), part: "service account", in: text)
        self.trustDomain = trustDomain
        self.namespace = String(segments[1])
        self.serviceAccount = String(segments[3])
    }

    public var uri: String { "spiffe://\(trustDomain)/ns/\(namespace)/sa/\(serviceAccount)" }
    public var description: String { uri }

    public static func < (lhs: SpiffeID, rhs: SpiffeID) -> Bool { lhs.uri < rhs.uri }

    /// The SPIFFE spec caps an ID at 2048 bytes.
    public static let maximumLength = 2048

    // MARK: - Validation

    static func validateTrustDomain(_ td: String, in text: String?) throws(CoreError) {
        let whole = text ?? td
        if td.isEmpty { throw .invalidSpiffeID(whole, "the trust domain is empty") }
        if td.utf8.count > 255 { throw .invalidSpiffeID(whole, "the trust domain is longer than 255 bytes") }
        if td.contains(":") { throw .invalidSpiffeID(whole, "the trust domain must not carry a port or user info") }
        if td.contains("@") { throw .invalidSpiffeID(whole, "the trust domain must not carry user info") }
        for byte in td.utf8 {
            let ok = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            if !ok {
                throw .invalidSpiffeID(
                    whole,
                    "the trust domain '\(td)' may hold only lower-case letters, digits, '.', '-' and '_'")
            }
        }
    }

    static func validateSegment(_ segment: String, part: String, in text: String?) throws(CoreError) {
        let whole = text ?? segment
        if segment.isEmpty { throw .invalidSpiffeID(whole, "the \(part) is empty") }
        if segment == "." || segment == ".." {
            throw .invalidSpiffeID(whole, "the \(part) must not be '.' or '..'")
        }
        for byte in segment.utf8 {
            let ok = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            if !ok {
                throw .invalidSpiffeID(
                    whole, "the \(part) '\(segment)' may hold only letters, digits, '.', '-' and '_'")
            }
        }
    }
}

extension SpiffeID: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        try self.init(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(uri)
    }
}
