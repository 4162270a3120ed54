/// Turns config documents into validated resources.
///
/// Everything is checked before anything is accepted: an unknown kind or field, a value of
/// the wrong type, an address that does not parse, a malformed principal. The first
/// problem is reported with its file, document, field path and reason; a caller applying a
/// batch keeps what it had when any document fails.
public enum ResourceDecoder {
    public static let kinds = [
        "Namespace", "Workload", "Service", "AuthorizationPolicy", "PeerAuthentication", "MeshConfig",
        "Gateway", "HTTPRoute", "GRPCRoute", "DestinationRule", "HTTPFault",
    ]

    /// Parses and validates a whole file (YAML or JSON, one or more documents).
    public static func decodeFile(_ text: String, file: String) throws(ResourceError) -> [Resource] {
        var out: [Resource] = []
        for (index, document) in try ConfigParser.documents(text, file: file).enumerated() {
            if case .null = document { continue }  // an empty document between `---`s
            do {
                out.append(try decode(document))
            } catch var error {
                error.file = file
                error.document = index + 1
                throw error
            }
        }
        return out
    }

    public static func decode(_ document: ConfigValue) throws(ResourceError) -> Resource {
        var top = try FieldReader(document, path: "")
        _ = try top.string("apiVersion")
        let kind = try top.requiredString("kind")
        guard kinds.contains(kind) else {
            throw ResourceError(path: "kind", reason: "unknown kind '\(kind)'; known kinds: \(kinds.joined(separator: ", "))")
        }
        let clusterScoped = kind == "Namespace" || kind == "MeshConfig"
        let metadata: ObjectMeta
        do { metadata = try decodeMetadata(&top, clusterScoped: clusterScoped, kind: kind) } catch var error {
            error.resource = kind  // the name may be what is wrong; the kind still helps find the document
            throw error
        }
        let name = "\(kind) \(metadata.key)"
        do {
            let resource: Resource
            switch kind {
            case "Namespace":
                resource = .namespace(Namespace(metadata: metadata))
            case "Workload":
                resource = .workload(try decodeWorkload(&top, metadata))
            case "Service":
                resource = .service(try decodeService(&top, metadata))
            case "AuthorizationPolicy":
                resource = .authorizationPolicy(try PolicyDecoder.authorizationPolicy(&top, metadata))
            case "PeerAuthentication":
                resource = .peerAuthentication(try PolicyDecoder.peerAuthentication(&top, metadata))
            case "Gateway":
                resource = .gateway(try GatewayDecoder.gateway(&top, metadata))
            case "HTTPRoute":
                resource = .httpRoute(try HTTPRouteDecoder.decode(&top, metadata))
            case "GRPCRoute":
                resource = .grpcRoute(try GRPCRouteDecoder.decode(&top, metadata))
            case "DestinationRule":
                resource = .destinationRule(try DestinationRuleDecoder.decode(&top, metadata))
            case "HTTPFault":
                resource = .httpFault(try HTTPFaultDecoder.decode(&top, metadata))
            default:
                resource = .meshConfig(try decodeMeshConfig(&top))
            }
            try top.finish()
            return resource
        } catch var error {
            error.resource = name
            throw error
        }
    }

    // MARK: - Kinds

    static func decodeMetadata(_ top: inout FieldReader, clusterScoped: Bool, kind: String) throws(ResourceError) -> ObjectMeta {
        guard var m = try top.map("metadata") else { throw ResourceError(path: "metadata", reason: "is required") }
        let name = try m.requiredString("name")
        try checkName(name, path: m.at("name"))
        var namespace = try m.string("namespace") ?? ""
        if clusterScoped {
            if !namespace.isEmpty { throw ResourceError(path: m.at("namespace"), reason: "\(kind) is cluster-scoped and takes no namespace") }
        } else {
            if namespace.isEmpty { namespace = "default" }
            try checkName(namespace, path: m.at("namespace"))
        }
        let labels = try m.stringMap("labels")
        _ = try m.stringMap("annotations")
        for (key, value) in labels where key.isEmpty || value.count > 63 {
            throw ResourceError(path: m.at("labels.\(key)"), reason: "label keys must not be empty and values are at most 63 characters")
        }
        try m.finish()
        return ObjectMeta(name: name, namespace: namespace, labels: labels)
    }

    /// Kubernetes DNS-1123 labels: what names must be so they can appear in hostnames.
    static func checkName(_ name: String, path: String) throws(ResourceError) {
        let ok = name.count <= 63 && name.first.map { $0.isLetter || $0.isNumber } == true
            && name.last.map { $0.isLetter || $0.isNumber } == true
            && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        if !ok {
            throw ResourceError(
                path: path, reason: "'\(name)' is not a valid name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit")
        }
    }

    static func address(_ text: String, path: String) throws(ResourceError) -> IPAddress {
        guard let ip = IPAddress(text) else { throw ResourceError(path: path, reason: "'\(text)' is not an IPv4 or IPv6 address") }
        return ip
    }

    static func decodeWorkload(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> Workload {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        let sa = try spec.string("serviceAccount") ?? "default"
        try checkName(sa, path: spec.at("serviceAccount"))
        let node = try spec.requiredString("node")
        var addresses: [IPAddress] = []
        for (i, text) in try spec.stringList("addresses").enumerated() {
            addresses.append(try address(text, path: "\(spec.at("addresses"))[\(i)]"))
        }
        if addresses.isEmpty { throw ResourceError(path: spec.at("addresses"), reason: "a workload needs at least one address") }
        let netns = try spec.string("netns")
        if let netns, !netns.hasPrefix("/") {
            throw ResourceError(path: spec.at("netns"), reason: "must be an absolute path such as /var/run/netns/NAME or /proc/PID/ns/net")
        }
        var dns: [IPAddress] = []
        for (i, text) in try spec.stringList("dnsServers").enumerated() {
            dns.append(try address(text, path: "\(spec.at("dnsServers"))[\(i)]"))
        }
        try spec.finish()
        return Workload(metadata: metadata, serviceAccount: sa, node: node, addresses: addresses, netns: netns, dnsServers: dns)
    }

    static func decodeService(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> Service {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        let selector = try spec.stringMap("selector")
        var addresses: [IPAddress] = []
        for (i, text) in try spec.stringList("addresses").enumerated() {
            addresses.append(try address(text, path: "\(spec.at("addresses"))[\(i)]"))
        }
        var ports: [ServicePort] = []
        var seen: Set<Int> = []
        for var p in try spec.list("ports") {
            guard let port = try p.int("port", range: 1...65535) else { throw ResourceError(path: p.at("port"), reason: "is required") }
            guard seen.insert(port).inserted else { throw ResourceError(path: p.at("port"), reason: "port \(port) is listed twice") }
            let target = try p.int("targetPort", range: 1...65535)
            let name = try p.string("name")
            let appProtocol = try p.string("appProtocol")
            if let proto = try p.string("protocol"), proto != "TCP" {
                throw ResourceError(path: p.at("protocol"), reason: "only TCP is supported, got '\(proto)'")
            }
            try p.finish()
            ports.append(ServicePort(name: name, port: port, targetPort: target, appProtocol: appProtocol))
        }
        if ports.isEmpty { throw ResourceError(path: spec.at("ports"), reason: "a service needs at least one port") }
        try spec.finish()
        return Service(metadata: metadata, selector: selector, addresses: addresses, ports: ports)
    }

    static func decodeMeshConfig(_ top: inout FieldReader) throws(ResourceError) -> MeshConfig {
        var config = MeshConfig()
        guard var spec = try top.map("spec") else { return config }
        if let td = try spec.string("trustDomain") {
            do { _ = try SpiffeID(trustDomain: td, namespace: "x", serviceAccount: "x") } catch {
                throw ResourceError(path: spec.at("trustDomain"), reason: error.message)
            }
            config.trustDomain = td
        }
        if let domain = try spec.string("clusterDomain") { config.clusterDomain = domain }
        if let root = try spec.string("rootNamespace") {
            try checkName(root, path: spec.at("rootNamespace"))
            config.rootNamespace = root
        }
        if var ca = try spec.map("ca") {
            config.caDirectory = try ca.string("directory")
            try ca.finish()
        }
        if let ttl = try spec.int("certificateTTLSeconds", range: 600...(7 * 24 * 3600)) { config.certificateTTL = Double(ttl) }
        try spec.finish()
        return config
    }
}
