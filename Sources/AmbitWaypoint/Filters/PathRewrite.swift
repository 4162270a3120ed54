import AmbitCore

/// The path part of `URLRewrite` and `RequestRedirect`: `ReplaceFullPath` and the
/// segment-aware `ReplacePrefixMatch`.
public enum PathRewrite {
    /// The new path (query not included) for `path`, which matched `matchedPrefix`.
    public static func apply(_ modifier: HTTPRoute.PathModifier, to path: Substring, matchedPrefix: String?) -> String {
        switch modifier {
        case .replaceFullPath(let full): return full
        case .replacePrefixMatch(let replacement): return replacePrefix(path, prefix: matchedPrefix ?? "/", with: replacement)
        }
    }

    /// Gateway API's table: the prefix and the replacement are compared without a trailing
    /// slash, and what follows the prefix (empty or starting with `/`) is kept, so `/foo`
    /// → `/xyz` turns `/foo/bar` into `/xyz/bar` and `/foo` into `/xyz`, and `/foo` → `/`
    /// turns `/foo/bar` into `/bar`, never `//bar`.
    public static func replacePrefix(_ path: Substring, prefix: String, with replacement: String) -> String {
        let trimmedPrefix = prefix.hasSuffix("/") ? prefix.dropLast() : Substring(prefix)
        let rest = path.hasPrefix(trimmedPrefix) ? path.dropFirst(trimmedPrefix.count) : path
        let head = replacement.hasSuffix("/") ? replacement.dropLast() : Substring(replacement)
        let result = String(head) + rest
        if result.isEmpty { return "/" }
        return result.hasPrefix("/") ? result : "/" + result
    }
}

/// `URLRewrite`: the request target and Host header the backend sees.
public enum URLRewriter {
    /// The rewritten `uri` (query kept) and the new Host value, if the rewrite sets one.
    public static func rewrite(
        _ rewrite: HTTPRoute.Rewrite, _ request: RouteRequest, matchedPrefix: String?
    ) -> (uri: String, host: String?) {
        var uri = request.uri
        if let modifier = rewrite.path {
            uri = PathRewrite.apply(modifier, to: request.path, matchedPrefix: matchedPrefix) + (request.query.map { "?" + $0 } ?? "")
        }
        return (uri, rewrite.hostname)
    }
}
