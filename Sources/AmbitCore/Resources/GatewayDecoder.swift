/// Decoding and validation of `Gateway`.
///
/// The Gateway is where a mistake costs most (every route through it is affected), so its
/// class, listener names and ports are checked here rather than left to the waypoint.
enum GatewayDecoder {
    static func gateway(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> Gateway {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        let className = try spec.requiredString("gatewayClassName")
        guard className == Gateway.waypointClassName else {
            throw ResourceError(
                path: spec.at("gatewayClassName"),
                reason: "'\(className)' is not Ambit's: Ambit implements only gatewayClassName \(Gateway.waypointClassName) (a waypoint); other classes belong to other controllers")
        }
        var listeners: [Gateway.Listener] = []
        var names: Set<String> = []
        var ports: [Int: (name: String, protocol: Gateway.ListenerProtocol)] = [:]
        for var l in try spec.list("listeners") {
            let name = try l.requiredString("name")
            try ResourceDecoder.checkName(name, path: l.at("name"))
            guard names.insert(name).inserted else { throw ResourceError(path: l.at("name"), reason: "listener '\(name)' is defined twice") }
            guard let port = try l.int("port", range: 1...65535) else { throw ResourceError(path: l.at("port"), reason: "is required") }
            guard let protoText = try l.string("protocol") else { throw ResourceError(path: l.at("protocol"), reason: "is required") }
            let proto = try FieldReader.oneOf(protoText, Gateway.ListenerProtocol.self, path: l.at("protocol"))
            // Two listeners may share a port only if they speak the same protocol and are
            // told apart by hostname; different protocols on one port cannot be served.
            if let other = ports[port], other.protocol != proto {
                throw ResourceError(path: l.at("port"), reason: "port \(port) is already used by listener '\(other.name)' (\(other.protocol.rawValue))")
            }
            ports[port] = (name, proto)
            let hostname = try l.string("hostname")
            if let hostname { try RouteDecoder.hostname(hostname, path: l.at("hostname"), wildcard: true) }
            var allowed = Gateway.RouteNamespaces.same
            if var a = try l.map("allowedRoutes") {
                if var n = try a.map("namespaces") {
                    switch try n.string("from") ?? "Same" {
                    case "Same": allowed = .same
                    case "All": allowed = .all
                    case "Selector":
                        guard var sel = try n.map("selector") else { throw ResourceError(path: n.at("selector"), reason: "is required when from is Selector") }
                        allowed = .selector(try sel.stringMap("matchLabels"))
                        try sel.finish()
                    case let other:
                        throw ResourceError(path: n.at("from"), reason: "must be one of Same, All, Selector, got '\(other)'")
                    }
                    try n.finish()
                }
                try a.finish()
            }
            try l.finish()
            listeners.append(Gateway.Listener(name: name, port: port, protocol: proto, hostname: hostname, allowedRoutes: allowed))
        }
        var addresses: [Gateway.Address] = []
        for var a in try spec.list("addresses") {
            let type = try a.oneOf("type", Gateway.Address.AddressType.self) ?? .ipAddress
            let value = try a.requiredString("value")
            switch type {
            case .ipAddress: _ = try ResourceDecoder.address(value, path: a.at("value"))
            case .hostname: try RouteDecoder.hostname(value, path: a.at("value"), wildcard: false)
            }
            try a.finish()
            addresses.append(Gateway.Address(type: type, value: value))
        }
        try spec.finish()
        // Istio's waypoints are declared with exactly this listener; writing it out is optional.
        return Gateway(metadata: metadata, listeners: listeners.isEmpty ? [.defaultWaypoint] : listeners, addresses: addresses)
    }
}
