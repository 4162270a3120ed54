import AmbitCore

/// An `Exact` or `RegularExpression` string match, compiled once when the route table is
/// built: a request never compiles a pattern.
///
/// Gateway API's regular expressions match the whole string (RE2 full match, as Envoy
/// does), so `/api` does not match `/api/v1`; `wholeMatch` gives exactly that.
struct StringMatcher: @unchecked Sendable {
    // `Regex` is an immutable value that is safe to use from any thread; it is only not
    // marked Sendable because its output type is erased.
    private enum Kind {
        case exact(String)
        case regex(Regex<AnyRegexOutput>)
    }
    private let kind: Kind

    /// The decoder already compiled every pattern on apply, so this cannot fail for a
    /// decoded resource; a pattern that somehow does not compile matches nothing.
    init(_ type: StringMatchType, _ value: String) {
        switch type {
        case .exact: kind = .exact(value)
        case .regularExpression: kind = (try? Regex(value)).map { .regex($0) } ?? .regex(try! Regex("(?!)"))
        }
    }

    func matches(_ text: some StringProtocol) -> Bool {
        switch kind {
        case .exact(let value): return text == value
        case .regex(let regex): return (try? regex.wholeMatch(in: String(text))) != nil
        }
    }

    var isExact: Bool { if case .exact = kind { true } else { false } }
}

/// A header (or query parameter) condition.
struct HeaderCondition: Sendable {
    let name: String
    let matcher: StringMatcher

    init(_ match: HeaderMatch) {
        name = match.name
        matcher = StringMatcher(match.type, match.value)
    }
}
