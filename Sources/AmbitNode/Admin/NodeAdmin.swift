import AmbitCore
import AmbitTelemetry
import Logging

/// The node's HTTP endpoints: `/metrics` (15020, Prometheus text), `/healthz/ready`
/// (15021), and on localhost only (15000) `/config_dump`, `/certs`, `/connections`.
extension NodeDaemon {
    func bindServers() async throws {
        let metrics = AdminRoutes()
        metrics.registerMetrics(context.telemetry.registry)
        let readiness = AdminRoutes()
        readiness.registerReadiness { [weak self] in
            guard let self else { return .notReady(reason: "shutting down") }
            return await self.readiness()
        }
        let admin = AdminRoutes()
        admin.registerMetrics(context.telemetry.registry)
        admin.register("GET", "/config_dump") { [weak self] _ in
            guard let self else { return .text("shutting down", status: 503) }
            return .json(await self.configDump().text)
        }
        admin.register("GET", "/certs") { [weak self] _ in
            guard let self else { return .text("shutting down", status: 503) }
            return .json(await self.certificatesDump().text)
        }
        admin.register("GET", "/connections") { [weak self] _ in
            guard let self else { return .text("shutting down", status: 503) }
            return .json(await self.connectionsDump().text)
        }
        for (address, routes) in [
            (configuration.metricsAddress, metrics), (configuration.readinessAddress, readiness), (configuration.adminAddress, admin),
        ] where address.port != 0 || address.host != "" {
            let server = try await AdminHTTPServer.bind(host: address.host, port: address.port, group: context.group, routes: routes, logger: logger)
            httpServers.append(server)
        }
    }

    /// Ports actually bound, in order metrics, readiness, admin (useful with port 0).
    public var boundPorts: [Int] { httpServers.map(\.port) }

    func readiness() -> Readiness {
        guard isReady else { return .notReady(reason: "the first config has not been applied yet") }
        return .ready
    }

    func configDump() -> JSON {
        let snapshot = context.snapshot
        let pods = podList.map { pod -> JSON in
            .object([
                ("workload", .string(pod.target.key)), ("identity", .string(pod.target.identity.uri)),
                ("netns", .string(pod.target.netns)), ("addresses", .array(pod.target.addresses.map { .string($0.description) })),
                ("enrolledAt", .double(pod.enrolledAt)),
            ])
        }
        return .object([
            ("node", .string(configuration.nodeName)),
            ("trustDomain", .string(snapshot.mesh.trustDomain)),
            ("enrolled", .array(pods)),
            ("failures", .object(enrolmentFailures.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("workloads", .array(snapshot.workloads.map { w in
                .object([
                    ("name", .string(w.metadata.key)), ("node", .string(w.node)),
                    ("addresses", .array(w.addresses.map { .string($0.description) })),
                    ("inMesh", .bool(snapshot.isEnrolled(w))),
                ])
            })),
            ("services", .array(snapshot.services.map { s in
                .object([
                    ("name", .string(s.metadata.key)), ("hostname", .string(s.hostname(clusterDomain: snapshot.mesh.clusterDomain))),
                    ("addresses", .array(s.addresses.map { .string($0.description) })),
                    ("endpoints", .array(snapshot.endpoints(of: s).map { .string($0.metadata.key) })),
                    ("waypoint", .optional(snapshot.waypointName(for: s))),
                ])
            })),
            ("authorizationPolicies", .array(snapshot.authorizationPolicies.map { .string("\($0.metadata.key) \($0.action.rawValue)") })),
            ("peerAuthentications", .array(snapshot.peerAuthentications.map { .string("\($0.metadata.key) \($0.mode.rawValue)") })),
        ])
    }

    func certificatesDump() async -> JSON {
        let statuses = await context.identity.certificates.status()
        return .object([
            ("certificates", .array(statuses.sorted { $0.identity.uri < $1.identity.uri }.map { s in
                .object([
                    ("identity", .string(s.identity.uri)), ("serial", .optional(s.serial)),
                    ("notBefore", s.notBefore.map { .double($0) } ?? .null), ("notAfter", s.notAfter.map { .double($0) } ?? .null),
                    ("refreshAt", s.refreshAt.map { .double($0) } ?? .null),
                    ("consecutiveFailures", .int(s.consecutiveFailures)), ("lastError", .optional(s.lastError)),
                ])
            }))
        ])
    }

    func connectionsDump() -> JSON {
        let now = context.clock.now()
        return .object([
            ("connections", .array(podList.flatMap { pod in
                pod.connections.entries.map { e -> JSON in
                    .object([
                        ("workload", .string(pod.target.key)), ("direction", .string(e.direction.rawValue)), ("mode", .string(e.mode)),
                        ("source", .string(e.source)), ("destination", .string(e.destination)),
                        ("peerIdentity", .optional(e.peerIdentity?.uri)), ("ageSeconds", .double(((now - e.startedAt) * 10).rounded() / 10)),
                    ])
                }
            }))
        ])
    }
}
