/// Decoding and validation of AuthorizationPolicy and PeerAuthentication.
enum PolicyDecoder {
    static func selector(_ spec: inout FieldReader) throws(ResourceError) -> [String: String]? {
        guard var sel = try spec.map("selector") else { return nil }
        let labels = try sel.stringMap("matchLabels")
        try sel.finish()
        return labels
    }

    static func authorizationPolicy(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> AuthorizationPolicy {
        var policy = AuthorizationPolicy(metadata: metadata)
        // `spec: {}` (or none) is Istio's allow-nothing policy.
        guard var spec = try top.map("spec") else { return policy }
        policy.selector = try selector(&spec)
        policy.targetRefs = try targetRefs(&spec)
        if policy.selector != nil && !policy.targetRefs.isEmpty {
            // Istio's validation: one policy is either a node's (selector) or a waypoint's
            // (targetRefs); both would leave it unclear who enforces it.
            throw ResourceError(
                path: spec.at("targetRefs"),
                reason: "selector and targetRefs cannot be used together: use selector for workloads (enforced by the node) or targetRefs for a waypoint Gateway or Service (enforced by the waypoint)")
        }
        if let action = try spec.string("action") {
            guard let a = AuthorizationPolicy.Action(rawValue: action) else {
                throw ResourceError(
                    path: spec.at("action"),
                    reason: "must be one of \(AuthorizationPolicy.Action.allCases.map(\.rawValue).joined(separator: ", ")), got '\(action)'")
            }
            policy.action = a
        }
        for var r in try spec.list("rules") {
            var rule = AuthorizationPolicy.Rule()
            for var f in try r.list("from") {
                guard var s = try f.map("source") else { throw ResourceError(path: f.at("source"), reason: "is required") }
                var source = AuthorizationPolicy.Source()
                source.principals = try principals(&s, "principals")
                source.notPrincipals = try principals(&s, "notPrincipals")
                source.namespaces = try s.stringList("namespaces")
                source.notNamespaces = try s.stringList("notNamespaces")
                source.ipBlocks = try cidrs(&s, "ipBlocks")
                source.notIpBlocks = try cidrs(&s, "notIpBlocks")
                source.requestPrincipals = try s.stringList("requestPrincipals")
                source.notRequestPrincipals = try s.stringList("notRequestPrincipals")
                try s.finish()
                try f.finish()
                rule.from.append(source)
            }
            for var t in try r.list("to") {
                guard var o = try t.map("operation") else { throw ResourceError(path: t.at("operation"), reason: "is required") }
                var op = AuthorizationPolicy.Operation()
                op.ports = try ports(&o, "ports")
                op.notPorts = try ports(&o, "notPorts")
                op.hosts = try o.stringList("hosts")
                op.notHosts = try o.stringList("notHosts")
                op.methods = try o.stringList("methods")
                op.notMethods = try o.stringList("notMethods")
                op.paths = try o.stringList("paths")
                op.notPaths = try o.stringList("notPaths")
                try o.finish()
                try t.finish()
                rule.to.append(op)
            }
            for var w in try r.list("when") {
                let key = try w.requiredString("key")
                let values = try w.stringList("values")
                let notValues = try w.stringList("notValues")
                if values.isEmpty && notValues.isEmpty {
                    throw ResourceError(path: w.path, reason: "a condition needs values or notValues")
                }
                try w.finish()
                rule.when.append(.init(key: key, values: values, notValues: notValues))
            }
            try r.finish()
            policy.rules.append(rule)
        }
        try spec.finish()
        return policy
    }

    /// `targetRefs`: a waypoint Gateway or a Service, in the policy's namespace.
    static func targetRefs(_ spec: inout FieldReader) throws(ResourceError) -> [AuthorizationPolicy.TargetReference] {
        var out: [AuthorizationPolicy.TargetReference] = []
        for var t in try spec.list("targetRefs") {
            let kind = try FieldReader.oneOf(try t.requiredString("kind"), AuthorizationPolicy.TargetReference.Kind.self, path: t.at("kind"))
            let group = try t.string("group") ?? ""
            let allowed = kind == .gateway ? [GatewayAPI.group] : ["", "core"]
            guard allowed.contains(group) else {
                let expected = kind == .gateway ? GatewayAPI.group : "empty (the core group)"
                throw ResourceError(path: t.at("group"), reason: "a \(kind.rawValue) target's group is \(expected), got '\(group)'")
            }
            let name = try t.requiredString("name")
            try ResourceDecoder.checkName(name, path: t.at("name"))
            try t.finish()
            let ref = AuthorizationPolicy.TargetReference(kind: kind, name: name)
            if out.contains(ref) { throw ResourceError(path: t.path, reason: "\(ref) is listed twice") }
            out.append(ref)
        }
        return out
    }

    /// Principals are `TRUST_DOMAIN/ns/NS/sa/SA` (Istio's form; `spiffe://` is tolerated),
    /// `*`, or a prefix/suffix with one `*`.
    static func principals(_ r: inout FieldReader, _ key: String) throws(ResourceError) -> [String] {
        let values = try r.stringList(key)
        for (i, value) in values.enumerated() {
            let path = "\(r.at(key))[\(i)]"
            if value == "*" { continue }
            let stars = value.filter { $0 == "*" }.count
            if stars > 1 || (stars == 1 && !value.hasPrefix("*") && !value.hasSuffix("*")) {
                throw ResourceError(path: path, reason: "'\(value)': a principal may hold one '*', at its start or end")
            }
            if stars == 0 {
                let uri = value.hasPrefix("spiffe://") ? value : "spiffe://" + value
                do { _ = try SpiffeID(parsing: uri) } catch {
                    throw ResourceError(
                        path: path, reason: "'\(value)' is not a principal: \(error.message); write TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT")
                }
            }
        }
        return values
    }

    static func cidrs(_ r: inout FieldReader, _ key: String) throws(ResourceError) -> [CIDR] {
        var out: [CIDR] = []
        for (i, text) in try r.stringList(key).enumerated() {
            guard let block = CIDR(text) else {
                throw ResourceError(path: "\(r.at(key))[\(i)]", reason: "'\(text)' is not an address or CIDR block such as 10.0.0.0/8")
            }
            out.append(block)
        }
        return out
    }

    static func ports(_ r: inout FieldReader, _ key: String) throws(ResourceError) -> [Int] {
        var out: [Int] = []
        for (i, text) in try r.stringList(key).enumerated() {
            guard let p = Int(text), (1...65535).contains(p) else {
                throw ResourceError(path: "\(r.at(key))[\(i)]", reason: "'\(text)' is not a port from 1 to 65535")
            }
            out.append(p)
        }
        return out
    }

    static func mode(_ text: String, path: String) throws(ResourceError) -> MutualTLSMode {
        guard let m = MutualTLSMode(rawValue: text) else {
            throw ResourceError(path: path, reason: "must be one of \(MutualTLSMode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
        }
        return m
    }

    static func peerAuthentication(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> PeerAuthentication {
        guard var spec = try top.map("spec") else { return PeerAuthentication(metadata: metadata, mode: .unset) }
        let sel = try selector(&spec)
        var mode = MutualTLSMode.unset
        if var mtls = try spec.map("mtls") {
            if let m = try mtls.string("mode") { mode = try self.mode(m, path: mtls.at("mode")) }
            try mtls.finish()
        }
        var portModes: [Int: MutualTLSMode] = [:]
        if let v = spec.value("portLevelMtls") {
            guard case .map(let pairs) = v else { throw ResourceError(path: spec.at("portLevelMtls"), reason: "must be a map of port to {mode}") }
            for (key, value) in pairs {
                let path = "\(spec.at("portLevelMtls")).\(key)"
                guard let port = Int(key), (1...65535).contains(port) else { throw ResourceError(path: path, reason: "'\(key)' is not a port") }
                var pm = try FieldReader(value, path: path)
                portModes[port] = try self.mode(try pm.requiredString("mode"), path: pm.at("mode"))
                try pm.finish()
            }
            if sel == nil && !portModes.isEmpty {
                throw ResourceError(path: spec.at("portLevelMtls"), reason: "port-level modes need a workload selector (as in Istio)")
            }
        }
        try spec.finish()
        return PeerAuthentication(metadata: metadata, selector: sel, mode: mode, portModes: portModes)
    }
}
