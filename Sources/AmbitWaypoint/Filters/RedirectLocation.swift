import AmbitCore
import NIOHTTP1

/// `RequestRedirect`: the `Location` a redirect answers with, by Gateway API's rules.
///
/// Scheme, host and path default to the request's. The port is the redirect's own, else
/// the well-known port of a scheme the redirect changes to, else the port the request was
/// sent to; it is left out of the URL when it is the scheme's default (80 for http, 443
/// for https). The query string is kept.
public enum RedirectLocation {
    public static func location(_ redirect: HTTPRoute.Redirect, for request: RouteRequest, matchedPrefix: String?) -> String {
        let scheme = redirect.scheme ?? request.scheme
        let host = redirect.hostname ?? request.host
        let port: Int
        if let p = redirect.port {
            port = p
        } else if let changed = redirect.scheme {
            port = changed == "https" ? 443 : 80
        } else {
            port = request.port
        }
        let isDefault = (scheme == "http" && port == 80) || (scheme == "https" && port == 443)
        let path = redirect.path.map { PathRewrite.apply($0, to: request.path, matchedPrefix: matchedPrefix) } ?? String(request.path)
        let query = request.query.map { "?" + $0 } ?? ""
        return "\(scheme)://\(host)\(isDefault ? "" : ":\(port)")\(path)\(query)"
    }

    /// The whole answer: 301 or 302 with the Location, no body.
    public static func reply(_ redirect: HTTPRoute.Redirect, for request: RouteRequest, matchedPrefix: String?) -> LocalReply {
        let location = location(redirect, for: request, matchedPrefix: matchedPrefix)
        return LocalReply(status: HTTPResponseStatus(statusCode: redirect.statusCode), headers: ["location": location])
    }
}
