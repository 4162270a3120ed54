/// Decoding and validation of Istio's `DestinationRule`, filling in Istio's defaults for
/// every section that is present.
///
/// `tls` is refused everywhere it can appear: in Ambit the tunnel between proxies is always
/// mutual TLS with workload identities, and a per-destination TLS setting could only
/// weaken that or be silently ignored.
enum DestinationRuleDecoder {
    static let tlsRefusal = "not supported: the mesh always uses mTLS between workloads, so there is nothing to configure"
    /// Istio's counters are unsigned 32-bit; limits must allow at least one.
    static let count = 0...DestinationRule.ConnectionPool.unlimited
    static let limit = 1...DestinationRule.ConnectionPool.unlimited

    static func decode(_ top: inout FieldReader, _ metadata: ObjectMeta) throws(ResourceError) -> DestinationRule {
        guard var spec = try top.map("spec") else { throw ResourceError(path: "spec", reason: "is required") }
        let host = try spec.requiredString("host")
        try checkHost(host, path: spec.at("host"))
        var rule = DestinationRule(metadata: metadata, host: host)
        if var t = try spec.map("trafficPolicy") { rule.trafficPolicy = try trafficPolicy(&t, portLevel: true) }
        var names: Set<String> = []
        for var s in try spec.list("subsets") {
            let name = try s.requiredString("name")
            try ResourceDecoder.checkName(name, path: s.at("name"))
            guard names.insert(name).inserted else { throw ResourceError(path: s.at("name"), reason: "subset '\(name)' is defined twice") }
            let labels = try s.stringMap("labels")
            var policy: DestinationRule.TrafficPolicy?
            if var t = try s.map("trafficPolicy") { policy = try trafficPolicy(&t, portLevel: true) }
            try s.finish()
            rule.subsets.append(DestinationRule.Subset(name: name, labels: labels, trafficPolicy: policy))
        }
        try spec.finish()
        return rule
    }

    /// A Service name, short or fully qualified, or a wildcard (`*.shop.svc.cluster.local`).
    static func checkHost(_ host: String, path: String) throws(ResourceError) {
        if host == "*" { return }
        do { try RouteDecoder.hostname(host, path: path, wildcard: true) } catch {
            throw ResourceError(path: path, reason: "'\(host)' is not a host: write a Service name (cart), its full name (cart.shop.svc.cluster.local) or a wildcard (*.shop.svc.cluster.local)")
        }
    }

    static func trafficPolicy(_ t: inout FieldReader, portLevel: Bool) throws(ResourceError) -> DestinationRule.TrafficPolicy {
        var policy = DestinationRule.TrafficPolicy()
        policy.loadBalancer = try loadBalancer(&t)
        policy.connectionPool = try connectionPool(&t)
        policy.outlierDetection = try outlierDetection(&t)
        if t.value("tls") != nil { throw ResourceError(path: t.at("tls"), reason: tlsRefusal) }
        if portLevel {
            var ports: Set<Int> = []
            for var p in try t.list("portLevelSettings") {
                guard var number = try p.map("port") else { throw ResourceError(path: p.at("port"), reason: "is required") }
                guard let port = try number.int("number", range: 1...65535) else { throw ResourceError(path: number.at("number"), reason: "is required") }
                try number.finish()
                guard ports.insert(port).inserted else { throw ResourceError(path: number.at("number"), reason: "port \(port) has two settings") }
                var settings = DestinationRule.PortTrafficPolicy(port: port)
                settings.loadBalancer = try loadBalancer(&p)
                settings.connectionPool = try connectionPool(&p)
                settings.outlierDetection = try outlierDetection(&p)
                if p.value("tls") != nil { throw ResourceError(path: p.at("tls"), reason: tlsRefusal) }
                try p.finish()
                policy.portLevelSettings.append(settings)
            }
        }
        try t.finish()
        return policy
    }

    static func loadBalancer(_ t: inout FieldReader) throws(ResourceError) -> DestinationRule.LoadBalancer? {
        guard var lb = try t.map("loadBalancer") else { return nil }
        let simple = try lb.oneOf("simple", DestinationRule.SimpleLoadBalancer.self)
        let hash = try lb.map("consistentHash")
        try lb.finish()
        switch (simple, hash) {
        case (let simple?, nil): return .simple(simple)
        case (nil, var hash?): return .consistentHash(try consistentHash(&hash))
        case (_?, _?): throw ResourceError(path: lb.path, reason: "set either simple or consistentHash, not both")
        case (nil, nil): throw ResourceError(path: lb.path, reason: "needs simple or consistentHash")
        }
    }

    static func consistentHash(_ h: inout FieldReader) throws(ResourceError) -> DestinationRule.ConsistentHash {
        var keys: [DestinationRule.ConsistentHash.Key] = []
        if let name = try h.string("httpHeaderName") {
            try RouteDecoder.headerName(name, path: h.at("httpHeaderName"))
            keys.append(.httpHeaderName(name))
        }
        if var c = try h.map("httpCookie") {
            let name = try c.requiredString("name")
            let path = try c.string("path")
            let ttl = try c.duration("ttl")
            try c.finish()
            keys.append(.httpCookie(name: name, path: path, ttl: ttl))
        }
        if let source = try h.bool("useSourceIp") {
            guard source else { throw ResourceError(path: h.at("useSourceIp"), reason: "only true is meaningful; leave it out to hash on something else") }
            keys.append(.useSourceIp)
        }
        if let name = try h.string("httpQueryParameterName") { keys.append(.httpQueryParameterName(name)) }
        var algorithm: DestinationRule.ConsistentHash.Algorithm?
        if var r = try h.map("ringHash") {
            let size = try r.int("minimumRingSize", range: 1...8_388_608) ?? DestinationRule.ConsistentHash.Algorithm.defaultMinimumRingSize
            try r.finish()
            algorithm = .ringHash(minimumRingSize: size)
        }
        if var m = try h.map("maglev") {
            if algorithm != nil { throw ResourceError(path: m.path, reason: "set either ringHash or maglev, not both") }
            let size = try m.int("tableSize", range: 1...5_000_011) ?? DestinationRule.ConsistentHash.Algorithm.defaultTableSize
            // Maglev's lookup table only spreads keys evenly when its size is prime.
            guard isPrime(size) else { throw ResourceError(path: m.at("tableSize"), reason: "must be a prime number, such as 65537, got \(size)") }
            try m.finish()
            algorithm = .maglev(tableSize: size)
        }
        try h.finish()
        guard keys.count == 1 else {
            throw ResourceError(
                path: h.path,
                reason: keys.isEmpty
                    ? "needs what to hash on: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName"
                    : "hash on one thing only: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName")
        }
        return DestinationRule.ConsistentHash(
            key: keys[0], algorithm: algorithm ?? .ringHash(minimumRingSize: DestinationRule.ConsistentHash.Algorithm.defaultMinimumRingSize))
    }

    static func isPrime(_ n: Int) -> Bool {
        guard n >= 2 else { return false }
        var d = 2
        while d * d <= n {
            if n % d == 0 { return false }
            d += 1
        }
        return true
    }

    static func connectionPool(_ t: inout FieldReader) throws(ResourceError) -> DestinationRule.ConnectionPool? {
        guard var c = try t.map("connectionPool") else { return nil }
        var pool = DestinationRule.ConnectionPool()
        if var tcp = try c.map("tcp") {
            pool.tcp.maxConnections = try tcp.int("maxConnections", range: limit) ?? pool.tcp.maxConnections
            pool.tcp.connectTimeout = try tcp.duration("connectTimeout", minimum: .milliseconds(1)) ?? pool.tcp.connectTimeout
            try tcp.finish()
        }
        if var http = try c.map("http") {
            pool.http.http1MaxPendingRequests = try http.int("http1MaxPendingRequests", range: limit) ?? pool.http.http1MaxPendingRequests
            pool.http.http2MaxRequests = try http.int("http2MaxRequests", range: limit) ?? pool.http.http2MaxRequests
            pool.http.maxRequestsPerConnection = try http.int("maxRequestsPerConnection", range: count) ?? pool.http.maxRequestsPerConnection
            pool.http.maxRetries = try http.int("maxRetries", range: count) ?? pool.http.maxRetries
            pool.http.idleTimeout = try http.duration("idleTimeout", minimum: .milliseconds(1)) ?? pool.http.idleTimeout
            try http.finish()
        }
        try c.finish()
        return pool
    }

    static func outlierDetection(_ t: inout FieldReader) throws(ResourceError) -> DestinationRule.OutlierDetection? {
        guard var o = try t.map("outlierDetection") else { return nil }
        var od = DestinationRule.OutlierDetection()
        od.consecutive5xxErrors = try o.int("consecutive5xxErrors", range: count) ?? od.consecutive5xxErrors
        od.consecutiveGatewayErrors = try o.int("consecutiveGatewayErrors", range: count) ?? od.consecutiveGatewayErrors
        od.interval = try o.duration("interval", minimum: .milliseconds(1)) ?? od.interval
        od.baseEjectionTime = try o.duration("baseEjectionTime", minimum: .milliseconds(1)) ?? od.baseEjectionTime
        od.maxEjectionPercent = try o.int("maxEjectionPercent", range: 0...100) ?? od.maxEjectionPercent
        od.minHealthPercent = try o.int("minHealthPercent", range: 0...100) ?? od.minHealthPercent
        try o.finish()
        return od
    }
}
