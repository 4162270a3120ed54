/// Decoding and validation of `HTTPRoute`, with Gateway API's schema and CEL rules: paths
/// start with `/`, regular expressions compile, a redirect neither rewrites nor forwards,
/// `ReplacePrefixMatch` needs the one `PathPrefix` match it replaces, the per-attempt
/// timeout fits in the whole-request one.
enum HTTPRouteDecoder {
    static let filterTypes: [(type: String, key: String)] = [
        ("RequestHeaderModifier", "requestHeaderModifier"), ("ResponseHeaderModifier", "responseHeaderModifier"),
        ("RequestRedirect", "requestRedirect"), ("URLRewrite", "urlRewrite"), ("RequestMirror", "requestMirror"),
        ("ExtensionRef", "extensionRef"),
    ]

    static func decode(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> HTTPRoute {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        let ns = metadata.namespace
        let parents = try RouteDecoder.parentRefs(&spec, namespace: ns)
        let hostnames = try RouteDecoder.hostnames(&spec)
        var rules: [HTTPRoute.Rule] = []
        for var r in try spec.list("rules") { rules.append(try rule(&r, namespace: ns)) }
        // Gateway API's schema default: one rule matching every path, with no backend
        // (so every request it claims gets 500, which says more than a silent 404).
        if rules.isEmpty { rules = [HTTPRoute.Rule()] }
        try spec.finish()
        return HTTPRoute(metadata: metadata, parentRefs: parents, hostnames: hostnames, rules: rules)
    }

    static func rule(_ r: inout FieldReader, namespace: String) throws(ResourceError) -> HTTPRoute.Rule {
        var rule = HTTPRoute.Rule()
        rule.name = try r.string("name")
        if let name = rule.name { try ResourceDecoder.checkName(name, path: r.at("name")) }
        let matchReaders = try r.list("matches")
        if !matchReaders.isEmpty { rule.matches = [] }
        for var m in matchReaders { rule.matches.append(try match(&m)) }

        let filterPath = r.at("filters")
        for var f in try r.list("filters") { rule.filters.append(try filter(&f, namespace: namespace, onBackend: false)) }
        try RouteDecoder.checkRepeats(rule.filters.map(\.type), path: filterPath)

        for var b in try r.list("backendRefs") {
            let backend = try RouteDecoder.backendReference(&b, namespace: namespace, weighted: true)
            var filters: [HTTPRoute.Filter] = []
            for var f in try b.list("filters") { filters.append(try filter(&f, namespace: namespace, onBackend: true)) }
            try RouteDecoder.checkRepeats(filters.map(\.type), path: b.at("filters"))
            try b.finish()
            rule.backendRefs.append(HTTPRoute.BackendRef(backend: backend, filters: filters))
        }

        // The CEL rules of HTTPRouteRule, in the order a reader would trip over them.
        let types = rule.filters.map(\.type)
        if let i = types.firstIndex(of: "RequestRedirect") {
            if types.contains("URLRewrite") {
                throw ResourceError(path: "\(filterPath)[\(i)]", reason: "RequestRedirect and URLRewrite cannot be combined in one rule: a redirect answers the request, a rewrite forwards it")
            }
            if !rule.backendRefs.isEmpty {
                throw ResourceError(path: "\(filterPath)[\(i)]", reason: "a RequestRedirect rule answers the request itself and cannot have backendRefs")
            }
        }
        for (i, filter) in rule.filters.enumerated() {
            let path: HTTPRoute.PathModifier?
            switch filter {
            case .requestRedirect(let redirect): path = redirect.path
            case .urlRewrite(let rewrite): path = rewrite.path
            default: path = nil
            }
            guard case .replacePrefixMatch = path else { continue }
            guard rule.matches.count == 1, rule.matches[0].path.type == .pathPrefix else {
                throw ResourceError(path: "\(filterPath)[\(i)]", reason: "ReplacePrefixMatch needs the rule to have exactly one match, with a PathPrefix path: it replaces the prefix that match matched")
            }
        }

        if var t = try r.map("timeouts") {
            let request = try t.duration("request")
            let backendRequest = try t.duration("backendRequest")
            try t.finish()
            if let request, let backendRequest, request != .zero, backendRequest != .zero, backendRequest > request {
                throw ResourceError(
                    path: t.at("backendRequest"),
                    reason: "\(ConfigDuration.text(backendRequest)) is longer than timeouts.request (\(ConfigDuration.text(request))): each attempt must fit in the whole request")
            }
            rule.timeouts = HTTPRoute.Timeouts(request: request, backendRequest: backendRequest)
        }
        if var rt = try r.map("retry") { rule.retry = try retry(&rt) }
        try r.finish()
        return rule
    }

    static func match(_ m: inout FieldReader) throws(ResourceError) -> HTTPRoute.Match {
        var match = HTTPRoute.Match()
        if var p = try m.map("path") {
            let type = try p.oneOf("type", HTTPRoute.PathMatch.MatchType.self) ?? .pathPrefix
            let value = try p.string("value") ?? "/"
            try p.finish()
            if type == .regularExpression {
                try RouteDecoder.regex(value, path: p.at("value"))
            } else {
                try checkPath(value, path: p.at("value"))
            }
            match.path = HTTPRoute.PathMatch(type: type, value: value)
        }
        match.headers = try RouteDecoder.headerMatches(&m, "headers", headerNames: true)
        match.queryParams = try RouteDecoder.headerMatches(&m, "queryParams", headerNames: false)
        match.method = try m.oneOf("method", HTTPRoute.Method.self)
        try m.finish()
        return match
    }

    /// Gateway API's rules for an Exact or PathPrefix value: an absolute, already
    /// normalised path, since requests are compared after normalisation and `/a/../b`
    /// could never match.
    static func checkPath(_ value: String, path: String) throws(ResourceError) {
        guard value.hasPrefix("/") else { throw ResourceError(path: path, reason: "'\(value)' must start with '/'") }
        for bad in ["//", "/./", "/../", "%2f", "%2F", "#"] where value.contains(bad) {
            throw ResourceError(path: path, reason: "'\(value)' must not contain '\(bad)'")
        }
        if value.hasSuffix("/..") || value.hasSuffix("/.") {
            throw ResourceError(path: path, reason: "'\(value)' must not end with '/.' or '/..'")
        }
    }

    static func filter(_ f: inout FieldReader, namespace: String, onBackend: Bool) throws(ResourceError) -> HTTPRoute.Filter {
        var (type, s) = try RouteDecoder.filterSettings(&f, types: filterTypes)
        if onBackend && (type == "RequestRedirect" || type == "URLRewrite") {
            throw ResourceError(path: f.at("type"), reason: "\(type) is not supported on a backend; put it in the rule's filters")
        }
        switch type {
        case "RequestHeaderModifier": return .requestHeaderModifier(try RouteDecoder.headerModifier(&s))
        case "ResponseHeaderModifier": return .responseHeaderModifier(try RouteDecoder.headerModifier(&s))
        case "RequestMirror": return .requestMirror(try RouteDecoder.mirror(&s, namespace: namespace))
        case "ExtensionRef":
            // Gateway API's LocalObjectReference: all three are required (the group may not
            // be left to a default, since the core group holds no filter kinds).
            let ref = ExtensionReference(group: try s.requiredString("group"), kind: try s.requiredString("kind"), name: try s.requiredString("name"))
            try ResourceDecoder.checkName(ref.name, path: s.at("name"))
            try s.finish()
            return .extensionRef(ref)
        case "URLRewrite":
            var rewrite = HTTPRoute.Rewrite()
            rewrite.hostname = try s.string("hostname")
            if let h = rewrite.hostname { try RouteDecoder.hostname(h, path: s.at("hostname"), wildcard: false) }
            if var p = try s.map("path") { rewrite.path = try pathModifier(&p) }
            try s.finish()
            if rewrite.hostname == nil && rewrite.path == nil {
                throw ResourceError(path: s.path, reason: "a URLRewrite needs a hostname or a path")
            }
            return .urlRewrite(rewrite)
        default:
            var redirect = HTTPRoute.Redirect()
            if let scheme = try s.string("scheme") {
                guard scheme == "http" || scheme == "https" else {
                    throw ResourceError(path: s.at("scheme"), reason: "must be one of http, https, got '\(scheme)'")
                }
                redirect.scheme = scheme
            }
            redirect.hostname = try s.string("hostname")
            if let h = redirect.hostname { try RouteDecoder.hostname(h, path: s.at("hostname"), wildcard: false) }
            if var p = try s.map("path") { redirect.path = try pathModifier(&p) }
            redirect.port = try s.int("port", range: 1...65535)
            if let code = try s.int("statusCode", range: 100...599) {
                guard code == 301 || code == 302 else {
                    throw ResourceError(path: s.at("statusCode"), reason: "must be 301 or 302, got \(code)")
                }
                redirect.statusCode = code
            }
            try s.finish()
            return .requestRedirect(redirect)
        }
    }

    static func pathModifier(_ p: inout FieldReader) throws(ResourceError) -> HTTPRoute.PathModifier {
        let type = try p.requiredString("type")
        let full = try p.string("replaceFullPath")
        let prefix = try p.string("replacePrefixMatch")
        let modifier: HTTPRoute.PathModifier
        let key: String
        switch type {
        case "ReplaceFullPath":
            guard let full else { throw ResourceError(path: p.at("replaceFullPath"), reason: "is required when type is ReplaceFullPath") }
            if prefix != nil { throw ResourceError(path: p.at("replacePrefixMatch"), reason: "goes with type ReplacePrefixMatch, but type is ReplaceFullPath") }
            (modifier, key) = (.replaceFullPath(full), "replaceFullPath")
        case "ReplacePrefixMatch":
            guard let prefix else { throw ResourceError(path: p.at("replacePrefixMatch"), reason: "is required when type is ReplacePrefixMatch") }
            if full != nil { throw ResourceError(path: p.at("replaceFullPath"), reason: "goes with type ReplaceFullPath, but type is ReplacePrefixMatch") }
            (modifier, key) = (.replacePrefixMatch(prefix), "replacePrefixMatch")
        default:
            throw ResourceError(path: p.at("type"), reason: "must be one of ReplaceFullPath, ReplacePrefixMatch, got '\(type)'")
        }
        let value = full ?? prefix ?? ""
        guard value.hasPrefix("/") else { throw ResourceError(path: p.at(key), reason: "'\(value)' must start with '/'") }
        try p.finish()
        return modifier
    }

    static func retry(_ rt: inout FieldReader) throws(ResourceError) -> HTTPRoute.Retry {
        var retry = HTTPRoute.Retry()
        if let v = rt.value("codes") {
            guard case .list(let items) = v else { throw ResourceError(path: rt.at("codes"), reason: "must be a list, got \(v.typeName)") }
            for (i, item) in items.enumerated() {
                let path = "\(rt.at("codes"))[\(i)]"
                guard case .number(let text) = item, let code = Int(text) else {
                    throw ResourceError(path: path, reason: "must be an HTTP status code from 400 to 599, got \(item.typeName)")
                }
                // GEP-1731: only error responses can be retried; a 2xx or 3xx is an answer.
                guard (400...599).contains(code) else {
                    throw ResourceError(path: path, reason: "must be an HTTP status code from 400 to 599, got \(code)")
                }
                guard !retry.codes.contains(code) else { throw ResourceError(path: path, reason: "\(code) is listed twice") }
                retry.codes.append(code)
            }
        }
        retry.attempts = try rt.int("attempts", range: 0...1000) ?? HTTPRoute.Retry.defaultAttempts
        retry.backoff = try rt.duration("backoff") ?? HTTPRoute.Retry.defaultBackoff
        try rt.finish()
        return retry
    }
}
