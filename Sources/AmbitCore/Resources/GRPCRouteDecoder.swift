/// Decoding and validation of `GRPCRoute`: the shared route pieces from `RouteDecoder`,
/// plus gRPC's own method matches and its smaller set of filters.
enum GRPCRouteDecoder {
    static let filterTypes: [(type: String, key: String)] = [
        ("RequestHeaderModifier", "requestHeaderModifier"), ("ResponseHeaderModifier", "responseHeaderModifier"),
        ("RequestMirror", "requestMirror"),
    ]

    static func decode(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> GRPCRoute {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        let ns = metadata.namespace
        let parents = try RouteDecoder.parentRefs(&spec, namespace: ns)
        let hostnames = try RouteDecoder.hostnames(&spec)
        var rules: [GRPCRoute.Rule] = []
        for var r in try spec.list("rules") {
            var rule = GRPCRoute.Rule()
            rule.name = try r.string("name")
            if let name = rule.name { try ResourceDecoder.checkName(name, path: r.at("name")) }
            for var m in try r.list("matches") {
                var match = GRPCRoute.Match()
                if var mm = try m.map("method") { match.method = try methodMatch(&mm) }
                match.headers = try RouteDecoder.headerMatches(&m, "headers", headerNames: true)
                try m.finish()
                rule.matches.append(match)
            }
            for var f in try r.list("filters") { rule.filters.append(try grpcFilter(&f, namespace: ns)) }
            try RouteDecoder.checkRepeats(rule.filters.map(\.type), path: r.at("filters"))
            for var b in try r.list("backendRefs") {
                let backend = try RouteDecoder.backendReference(&b, namespace: ns, weighted: true)
                var filters: [GRPCRoute.Filter] = []
                for var f in try b.list("filters") { filters.append(try grpcFilter(&f, namespace: ns)) }
                try RouteDecoder.checkRepeats(filters.map(\.type), path: b.at("filters"))
                try b.finish()
                rule.backendRefs.append(GRPCRoute.BackendRef(backend: backend, filters: filters))
            }
            try r.finish()
            rules.append(rule)
        }
        if rules.isEmpty { rules = [GRPCRoute.Rule()] }
        try spec.finish()
        return GRPCRoute(metadata: metadata, parentRefs: parents, hostnames: hostnames, rules: rules)
    }

    /// Gateway API's rules: an Exact match names a service, a method or both, each a valid
    /// protobuf identifier; a RegularExpression match compiles.
    static func methodMatch(_ m: inout FieldReader) throws(ResourceError) -> GRPCRoute.MethodMatch {
        let type = try m.oneOf("type", StringMatchType.self) ?? .exact
        let service = try m.string("service")
        let method = try m.string("method")
        try m.finish()
        if service == nil && method == nil { throw ResourceError(path: m.path, reason: "a method match needs a service, a method or both") }
        if type == .regularExpression {
            if let service { try RouteDecoder.regex(service, path: m.at("service")) }
            if let method { try RouteDecoder.regex(method, path: m.at("method")) }
        } else {
            if let service, !isIdentifier(service, dotted: true) {
                throw ResourceError(path: m.at("service"), reason: "'\(service)' is not a gRPC service name such as shop.v1.Cart")
            }
            if let method, !isIdentifier(method, dotted: false) {
                throw ResourceError(path: m.at("method"), reason: "'\(method)' is not a gRPC method name such as AddItem")
            }
        }
        return GRPCRoute.MethodMatch(type: type, service: service, method: method)
    }

    private static func isIdentifier(_ text: String, dotted: Bool) -> Bool {
        let parts = dotted ? text.split(separator: ".", omittingEmptySubsequences: false) : [Substring(text)]
        return parts.allSatisfy { part in
            part.first.map { $0.isASCII && ($0.isLetter || $0 == "_") } == true
                && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        }
    }

    static func grpcFilter(_ f: inout FieldReader, namespace: String) throws(ResourceError) -> GRPCRoute.Filter {
        var (type, s) = try RouteDecoder.filterSettings(&f, types: filterTypes)
        switch type {
        case "RequestHeaderModifier": return .requestHeaderModifier(try RouteDecoder.headerModifier(&s))
        case "ResponseHeaderModifier": return .responseHeaderModifier(try RouteDecoder.headerModifier(&s))
        default: return .requestMirror(try RouteDecoder.mirror(&s, namespace: namespace))
        }
    }
}
