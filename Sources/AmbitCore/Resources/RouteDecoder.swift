/// Decoding shared by HTTPRoute and GRPCRoute: parents, hostnames, backends, header
/// matches, header modifiers, mirrors, and the string checks Gateway API's schema makes
/// (hostnames, header names, regular expressions).
///
/// Checks that the Kubernetes API server would make from Gateway API's OpenAPI schema and
/// CEL rules are made here, so a file `kubectl apply` would refuse is refused by
/// `ambit apply` too, with the field path.
enum RouteDecoder {
    // MARK: - Parents and backends

    static func parentRefs(_ spec: inout FieldReader, namespace: String) throws(ResourceError) -> [ParentReference] {
        var out: [ParentReference] = []
        for var p in try spec.list("parentRefs") {
            let kindText = try p.string("kind") ?? ParentReference.Kind.gateway.rawValue
            let kind = try FieldReader.oneOf(kindText, ParentReference.Kind.self, path: p.at("kind"))
            if let group = try p.string("group") {
                let allowed = kind == .gateway ? [GatewayAPI.group] : ["", "core"]
                guard allowed.contains(group) else {
                    let expected = kind == .gateway ? GatewayAPI.group : "empty (the core group)"
                    throw ResourceError(path: p.at("group"), reason: "a \(kind.rawValue) parent's group is \(expected), got '\(group)'")
                }
            }
            let name = try p.requiredString("name")
            let ns = try p.string("namespace") ?? namespace
            try ResourceDecoder.checkName(ns, path: p.at("namespace"))
            let section = try p.string("sectionName")
            let port = try p.int("port", range: 1...65535)
            try p.finish()
            let ref = ParentReference(kind: kind, name: name, namespace: ns, sectionName: section, port: port)
            // Gateway API keys parentRefs by all their fields; the same parent twice would
            // attach the route twice.
            if out.contains(ref) { throw ResourceError(path: p.path, reason: "\(ref) is listed twice") }
            out.append(ref)
        }
        if out.isEmpty {
            throw ResourceError(path: spec.at("parentRefs"), reason: "a route needs at least one parent: a waypoint Gateway or a Service")
        }
        return out
    }

    /// A backend reference; `weighted` reads `weight` too (mirrors have none).
    static func backendReference(_ r: inout FieldReader, namespace: String, weighted: Bool) throws(ResourceError) -> BackendReference {
        let group = try r.string("group") ?? ""
        let kind = try r.string("kind") ?? "Service"
        let name = try r.requiredString("name")
        let ns = try r.string("namespace") ?? namespace
        try ResourceDecoder.checkName(ns, path: r.at("namespace"))
        let port = try r.int("port", range: 1...65535)
        let weight = weighted ? try r.int("weight", range: 0...1_000_000) ?? 1 : 1
        let ref = BackendReference(group: group, kind: kind, name: name, namespace: ns, port: port, weight: weight)
        // Gateway API's CEL rule: a Service has many ports, so the reference must pick one.
        if ref.isService && port == nil { throw ResourceError(path: r.at("port"), reason: "is required for a Service backend") }
        return ref
    }

    // MARK: - Hostnames and names

    static func hostnames(_ spec: inout FieldReader) throws(ResourceError) -> [String] {
        let names = try spec.stringList("hostnames")
        for (i, name) in names.enumerated() { try hostname(name, path: "\(spec.at("hostnames"))[\(i)]", wildcard: true) }
        return names
    }

    /// Gateway API's `Hostname` (or, without `wildcard`, `PreciseHostname`): lower-case DNS
    /// names, optionally `*.` first; never an IP address and never a port.
    static func hostname(_ text: String, path: String, wildcard: Bool) throws(ResourceError) {
        let body = wildcard && text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
        let labels = body.split(separator: ".", omittingEmptySubsequences: false)
        let ok = !body.isEmpty && text.count <= 253 && IPAddress(body) == nil
            && labels.allSatisfy { label in
                label.count <= 63 && label.first.map(isLowerAlnum) == true && label.last.map(isLowerAlnum) == true
                    && label.allSatisfy { isLowerAlnum($0) || $0 == "-" }
            }
        guard ok else {
            let form = wildcard ? "a DNS name such as cart.shop.svc.cluster.local or *.example.com" : "a DNS name such as example.com"
            throw ResourceError(path: path, reason: "'\(text)' is not a valid hostname: write \(form) (lower case, no port, no IP address)")
        }
    }

    private static func isLowerAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }

    /// HTTP header names are RFC 7230 tokens.
    static func headerName(_ name: String, path: String) throws(ResourceError) {
        let symbols = Set("!#$%&'*+-.^_`|~")
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || symbols.contains($0)) }) else {
            throw ResourceError(path: path, reason: "'\(name)' is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)")
        }
    }

    /// Compiles the pattern now, so a bad one is refused on apply with the compiler's own
    /// words, not discovered by the waypoint on the first request.
    static func regex(_ pattern: String, path: String) throws(ResourceError) {
        do { _ = try Regex(pattern) } catch {
            throw ResourceError(path: path, reason: "'\(pattern)' is not a valid regular expression: \(error)")
        }
    }

    // MARK: - Matches

    /// `headers` (names compared case-insensitively) or `queryParams` of a match.
    static func headerMatches(_ m: inout FieldReader, _ key: String, headerNames: Bool) throws(ResourceError) -> [HeaderMatch] {
        var out: [HeaderMatch] = []
        var seen: Set<String> = []
        for var h in try m.list(key) {
            let type = try h.oneOf("type", StringMatchType.self) ?? .exact
            let name = try h.requiredString("name")
            try headerName(name, path: h.at("name"))
            guard let value = try h.string("value") else { throw ResourceError(path: h.at("value"), reason: "is required") }
            if type == .regularExpression { try regex(value, path: h.at("value")) }
            try h.finish()
            guard seen.insert(headerNames ? name.lowercased() : name).inserted else {
                throw ResourceError(path: h.at("name"), reason: "'\(name)' is matched twice in one match; put both conditions in a regular expression")
            }
            out.append(HeaderMatch(type: type, name: name, value: value))
        }
        return out
    }

    // MARK: - Filters

    /// Reads a filter's `type` and its one settings map; the settings of any other type
    /// being present is an error (Gateway API's CEL rule), so a half-edited filter is not
    /// silently read as something else.
    static func filterSettings(_ f: inout FieldReader, types: [(type: String, key: String)]) throws(ResourceError) -> (String, FieldReader) {
        let type = try f.requiredString("type")
        guard let chosen = types.first(where: { $0.type == type }) else {
            throw ResourceError(path: f.at("type"), reason: "must be one of \(types.map(\.type).joined(separator: ", ")), got '\(type)'")
        }
        var settings: FieldReader?
        for (otherType, key) in types {
            guard let m = try f.map(key) else { continue }
            if otherType == type { settings = m } else {
                throw ResourceError(path: f.at(key), reason: "belongs to a \(otherType) filter, but this filter's type is \(type)")
            }
        }
        guard let settings else { throw ResourceError(path: f.at(chosen.key), reason: "is required when type is \(type)") }
        try f.finish()
        return (type, settings)
    }

    static func headerModifier(_ m: inout FieldReader) throws(ResourceError) -> HeaderModifier {
        var names: Set<String> = []
        var lists: [[HTTPHeader]] = []
        for key in ["set", "add"] {
            var list: [HTTPHeader] = []
            for var h in try m.list(key) {
                let name = try h.requiredString("name")
                try headerName(name, path: h.at("name"))
                guard let value = try h.string("value") else { throw ResourceError(path: h.at("value"), reason: "is required") }
                try h.finish()
                guard names.insert(name.lowercased()).inserted else {
                    throw ResourceError(path: h.at("name"), reason: "header '\(name)' is modified twice in one filter")
                }
                list.append(HTTPHeader(name: name, value: value))
            }
            lists.append(list)
        }
        let remove = try m.stringList("remove")
        var removed: Set<String> = []
        for (i, name) in remove.enumerated() {
            try headerName(name, path: "\(m.at("remove"))[\(i)]")
            guard removed.insert(name.lowercased()).inserted else {
                throw ResourceError(path: "\(m.at("remove"))[\(i)]", reason: "header '\(name)' is listed twice")
            }
        }
        try m.finish()
        let modifier = HeaderModifier(set: lists[0], add: lists[1], remove: remove)
        if modifier.set.isEmpty && modifier.add.isEmpty && remove.isEmpty {
            throw ResourceError(path: m.path, reason: "a header modifier needs at least one of set, add or remove")
        }
        return modifier
    }

    static func mirror(_ m: inout FieldReader, namespace: String) throws(ResourceError) -> RequestMirror {
        guard var b = try m.map("backendRef") else { throw ResourceError(path: m.at("backendRef"), reason: "is required") }
        let backend = try backendReference(&b, namespace: namespace, weighted: false)
        try b.finish()
        let percent = try m.int("percent", range: 0...100) ?? 100
        try m.finish()
        return RequestMirror(backendRef: backend, percent: percent)
    }

    /// Gateway API forbids a filter type twice in one list, except mirrors (one request
    /// can be copied to several places) and extension filters (each names its own object).
    static func checkRepeats(_ types: [String], path: String) throws(ResourceError) {
        var seen: Set<String> = []
        for (i, type) in types.enumerated() where type != "RequestMirror" && type != "ExtensionRef" {
            guard seen.insert(type).inserted else {
                throw ResourceError(path: "\(path)[\(i)]", reason: "a \(type) filter may appear only once in one list of filters")
            }
        }
    }
}
