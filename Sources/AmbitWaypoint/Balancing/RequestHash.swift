import AmbitCore

/// What consistent hashing needs to read from a request. The proxy's request type
/// conforms; tests use a small struct.
public protocol HashableRequestView {
    /// Every value of a header, in order; `name` is lower case.
    func headerValues(named name: String) -> [String]
    /// The client's address as text (`10.0.0.7`, `fd00::7`), if known.
    var sourceIP: String? { get }
    /// The request target: path plus `?query`, if any.
    var pathAndQuery: String { get }
}

/// The hash a consistent-hash balancer places a request by, and the cookie the proxy must
/// set on the response when the key is a cookie with a `ttl` that the request lacked.
public struct RequestHash: Hashable, Sendable {
    /// nil: the request carries no key (header missing…); the balancer picks at random,
    /// as Envoy does.
    public var value: UInt64?
    /// A complete `Set-Cookie` header value, when one must be sent.
    public var setCookie: String?

    public init(value: UInt64?, setCookie: String? = nil) {
        self.value = value
        self.setCookie = setCookie
    }

    /// Reads the key Istio's `consistentHash` names from `request`.
    ///
    /// For a cookie with a `ttl` that the request does not carry, a fresh value is drawn
    /// and both hashed and returned as `Set-Cookie`, so this request and the client's
    /// following ones land on the same endpoint (Envoy generates it the same way). A
    /// `ttl` of zero makes a session cookie.
    public init(_ key: DestinationRule.ConsistentHash.Key, request: some HashableRequestView, random: inout some RandomNumberGenerator) {
        switch key {
        case .httpHeaderName(let name):
            let values = request.headerValues(named: name.lowercased())
            self.init(value: values.isEmpty ? nil : XXHash64.hash(values.joined(separator: ",")))
        case .useSourceIp:
            self.init(value: request.sourceIP.map { XXHash64.hash($0) })
        case .httpQueryParameterName(let name):
            self.init(value: Self.queryValue(named: name, in: request.pathAndQuery).map { XXHash64.hash($0) })
        case .httpCookie(let name, let path, let ttl):
            if let value = Self.cookieValue(named: name, in: request.headerValues(named: "cookie")) {
                self.init(value: XXHash64.hash(value))
            } else if let ttl {
                let generated = Self.hex(random.next())
                self.init(value: XXHash64.hash(generated), setCookie: Self.setCookie(name: name, value: generated, path: path, ttl: ttl))
            } else {
                self.init(value: nil)
            }
        }
    }

    // MARK: - Parsing

    static func cookieValue(named name: String, in headers: [String]) -> String? {
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name[...] {
                    var value = trimmed[trimmed.index(after: equals)...]
                    while value.last == " " { value = value.dropLast() }
                    // RFC 6265 lets a value be quoted; the quotes are not part of it.
                    if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                    return String(value)
                }
            }
        }
        return nil
    }

    /// The raw (not percent-decoded) value of the first `name=` parameter; Envoy matches
    /// names as written too.
    static func queryValue(named name: String, in target: String) -> String? {
        guard let question = target.firstIndex(of: "?") else { return nil }
        var query = target[target.index(after: question)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        for parameter in query.split(separator: "&") {
            if let equals = parameter.firstIndex(of: "=") {
                if parameter[..<equals] == name[...] { return String(parameter[parameter.index(after: equals)...]) }
            } else if parameter == name[...] {
                return ""
            }
        }
        return nil
    }

    static func setCookie(name: String, value: String, path: String?, ttl: Duration) -> String {
        var cookie = "\(name)=\(value)"
        let seconds = ttl.components.seconds
        if seconds > 0 { cookie += "; Max-Age=\(seconds)" }
        if let path, !path.isEmpty { cookie += "; Path=\(path)" }
        return cookie + "; HttpOnly"
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
