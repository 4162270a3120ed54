import AmbitCore
import AmbitTelemetry
import NIOCore

/// The waypoint's HTTP endpoints: `/metrics` (15020), `/healthz/ready` (15021), and on
/// localhost only (15000) `/config_dump`, `/certs`, `/metrics`.
extension WaypointDaemon {
    func bindServers() async throws {
        let metrics = AdminRoutes()
        metrics.registerMetrics(telemetry.registry)
        let readiness = AdminRoutes()
        readiness.registerReadiness { [weak self] in
            guard let self, await self.isReady else { return .notReady(reason: "starting or draining") }
            return .ready
        }
        let admin = AdminRoutes()
        admin.registerMetrics(telemetry.registry)
        admin.register("GET", "/config_dump") { [weak self] _ in
            guard let self else { return .text("shutting down", status: 503) }
            return .json(await self.configDump().text)
        }
        admin.register("GET", "/certs") { [weak self] _ in
            guard let self else { return .text("shutting down", status: 503) }
            let statuses = await self.identity.certificates.status()
            return .json(
                JSON.object([
                    ("certificates", .array(statuses.map { s in
                        .object([
                            ("identity", .string(s.identity.uri)), ("serial", .optional(s.serial)),
                            ("notAfter", s.notAfter.map { .double($0) } ?? .null), ("lastError", .optional(s.lastError)),
                        ])
                    }))
                ]).text)
        }
        for (address, routes) in [
            (configuration.metricsAddress, metrics), (configuration.readinessAddress, readiness), (configuration.adminAddress, admin),
        ] where address.port != 0 || address.host != "" {
            httpServers.append(try await AdminHTTPServer.bind(host: address.host, port: address.port, group: group, routes: routes))
        }
    }

    /// Ports actually bound, in order metrics, readiness, admin (useful with port 0).
    public var boundPorts: [Int] { httpServers.map(\.port) }

    /// `10.0.0.5:15008`, not NIO's `[IPv4]10.0.0.5/10.0.0.5:15008`.
    static func text(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        return (ip.contains(":") ? "[\(ip)]" : ip) + ":\(address.port ?? 0)"
    }

    func configDump() async -> JSON {
        let config = self.config
        let backends = config.backends.values.sorted { ($0.key.service, $0.key.port) < ($1.key.service, $1.key.port) }
        return .object([
            ("waypoint", .string("\(configuration.scope.namespace)/\(configuration.scope.name)")),
            ("identity", .string(identity.id.uri)),
            ("trustDomain", .string(config.snapshot.mesh.trustDomain)),
            ("hbone", .string(Self.text(hboneAddress))),
            ("plainHTTP", .optional(plainHTTPAddress.map(Self.text))),
            ("openTunnels", .int(openTunnelCount)),
            ("idleUpstreams", .int(await idleUpstreams())),
            ("services", .array(backends.map { b in
                .object([
                    ("service", .string(b.service.metadata.key)), ("hostname", .string(b.hostname)),
                    ("addresses", .array(b.service.addresses.map { .string($0.description) })),
                    ("port", .int(b.port.port)), ("targetPort", .int(b.port.targetPort)),
                    ("appProtocol", .optional(b.port.appProtocol)),
                    ("endpoints", .array(b.endpoints.map { e in
                        .object([
                            ("address", .string(e.hostText)), ("workload", .optional(e.workload)),
                            ("identity", .optional(e.identity?.uri)), ("hbone", .bool(e.identity != nil)),
                        ])
                    })),
                ])
            })),
        ])
    }
}
