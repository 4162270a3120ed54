import AmbitAPI
import AmbitCore
import GRPCCore
import GRPCNIOTransportHTTP2
import AmbitIdentity

/// What `ambit apply`, `get`, `delete`, `label` and `status` reach: the registry, over
/// mTLS, for the administrator's identity only.
///
/// Refusals carry the registry's message unchanged (file, document, field, reason), so the
/// CLI prints exactly what to fix.
public struct AdminService: Ambit_V1_Admin.SimpleServiceProtocol {
    let registry: Registry
    let push: PushRegistry
    let admin: SpiffeID
    let certificates: CertificateService
    let serving: ServingCertificate
    let clock: any WallClock

    public init(
        registry: Registry, push: PushRegistry, admin: SpiffeID, certificates: CertificateService, serving: ServingCertificate,
        clock: any WallClock = SystemWallClock()
    ) {
        self.registry = registry
        self.push = push
        self.admin = admin
        self.certificates = certificates
        self.serving = serving
        self.clock = clock
    }

    public func apply(request: Ambit_V1_ApplyRequest, context: ServerContext) async throws -> Ambit_V1_ApplyResponse {
        try authorize(context)
        let file = request.fileName.isEmpty ? "-" : request.fileName
        let outcomes = try rpc { try registry.apply(request.documents, file: file, dryRun: request.dryRun) }
        var response = Ambit_V1_ApplyResponse()
        response.results = outcomes.map(Self.result)
        return response
    }

    public func get(request: Ambit_V1_GetRequest, context: ServerContext) async throws -> Ambit_V1_GetResponse {
        try authorize(context)
        let kind = try Self.kind(request.kind)
        var found: [StoredResource]
        if request.name.isEmpty {
            found = registry.list(kind: kind, namespace: request.namespace.isEmpty ? nil : request.namespace)
        } else {
            let key = ResourceKey(kind: kind, namespace: Self.isClusterScoped(kind) ? "" : (request.namespace.isEmpty ? "default" : request.namespace), name: request.name)
            guard let one = registry.get(key) else { throw RPCError(code: .notFound, message: "\(key) not found") }
            found = [one]
        }
        let snapshot = registry.snapshot
        var response = Ambit_V1_GetResponse()
        response.documents = found.map { stored in
            var document = stored.documentWithResourceVersion
            if let resource = try? ResourceDecoder.decode(stored.document) {
                let conditions = ResourceStatus.conditions(for: resource, in: snapshot)
                if !conditions.isEmpty, case .map(var pairs) = document {
                    pairs.append(("status", .map([("conditions", .list(conditions.map(Self.conditionValue)))])))
                    document = .map(pairs)
                }
            }
            return ResourceBody.canonicalJSON(document)
        }
        return response
    }

    public func delete(request: Ambit_V1_DeleteRequest, context: ServerContext) async throws -> Ambit_V1_DeleteResponse {
        try authorize(context)
        let kind = try Self.kind(request.kind)
        let key = ResourceKey(kind: kind, namespace: Self.isClusterScoped(kind) ? "" : (request.namespace.isEmpty ? "default" : request.namespace), name: request.name)
        var response = Ambit_V1_DeleteResponse()
        if request.dryRun {
            guard registry.get(key) != nil else { throw RPCError(code: .notFound, message: "\(key) not found") }
            response.results = [Self.result(.init(key: key, action: .deleted, resourceVersion: 0))]
        } else {
            response.results = try rpc { try registry.delete([key]) }.map(Self.result)
        }
        return response
    }

    public func label(request: Ambit_V1_LabelRequest, context: ServerContext) async throws -> Ambit_V1_LabelResponse {
        try authorize(context)
        let kind = try Self.kind(request.kind)
        let key = ResourceKey(kind: kind, namespace: Self.isClusterScoped(kind) ? "" : (request.namespace.isEmpty ? "default" : request.namespace), name: request.name)
        var changes: [String: String?] = [:]
        for (k, v) in request.set { changes[k] = v }
        for k in request.remove { changes[k] = .some(nil) }
        var response = Ambit_V1_LabelResponse()
        response.result = Self.result(try rpc { try registry.label(key, changes) })
        return response
    }

    public func status(request: Ambit_V1_StatusRequest, context: ServerContext) async throws -> Ambit_V1_StatusResponse {
        try authorize(context)
        let snapshot = registry.snapshot
        var response = Ambit_V1_StatusResponse()
        response.version = String(registry.revision)
        response.nodes = push.statusMessages()
        var counts: [String: Int32] = [:]
        for resource in registry.store.snapshot().resources { counts[resource.key.kind, default: 0] += 1 }
        response.resourceCounts = counts
        response.controlPlane = controlPlaneStatus()
        response.workloads = Self.workloads(in: snapshot)
        response.waypoints = Self.waypoints(in: snapshot)
        response.certificates = certificates.issued.current(at: clock.now()).map { e in
            var c = Ambit_V1_CertificateStatus()
            c.identity = e.identity
            c.requester = e.requester
            c.serial = e.serial
            c.notBeforeUnix = Int64(e.notBefore)
            c.notAfterUnix = Int64(e.notAfter)
            return c
        }
        return response
    }

    public func proxyConfig(request: Ambit_V1_ProxyConfigRequest, context: ServerContext) async throws -> Ambit_V1_ProxyConfigResponse {
        try authorize(context)
        guard let accepted = push.accepted(request.name) else {
            let known = push.nodes().map(\.node.id)
            throw RPCError(
                code: .notFound,
                message: "no node or waypoint named '\(request.name)' has connected to this control plane since it started"
                    + (known.isEmpty ? "" : "; known: \(known.joined(separator: ", "))")
                    + " (waypoints are NAMESPACE/GATEWAY)")
        }
        var response = Ambit_V1_ProxyConfigResponse()
        response.status = PushRegistry.message(accepted.status)
        response.offeredVersion = accepted.offered.version
        for (type, held) in accepted.held.sorted(by: { $0.key < $1.key }) {
            let offered = Dictionary((accepted.offered.resources[type] ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for (name, version) in held.sorted(by: { $0.key < $1.key }) {
                var r = Ambit_V1_HeldResource()
                r.typeURL = type
                r.name = name
                r.version = version
                if let now = offered[name], now.version == version {
                    r.current = true
                    r.body = now.body
                }
                response.resources.append(r)
            }
        }
        return response
    }

    private func controlPlaneStatus() -> Ambit_V1_ControlPlaneStatus {
        var cp = Ambit_V1_ControlPlaneStatus()
        cp.trustDomain = certificates.ca.trustDomain
        cp.servingIdentity = serving.identity.uri
        cp.servingNotAfterUnix = Int64(serving.certificate.notAfter)
        cp.roots = certificates.ca.trustBundle.roots.map { root in
            var r = Ambit_V1_TrustRoot()
            r.subject = root.subject.description
            r.notAfterUnix = Int64(root.notValidAfter.timeIntervalSince1970)
            return r
        }
        return cp
    }

    static func workloads(in snapshot: MeshSnapshot) -> [Ambit_V1_WorkloadStatus] {
        snapshot.workloads.sorted { $0.metadata.key < $1.metadata.key }.map { w in
            var m = Ambit_V1_WorkloadStatus()
            m.namespace = w.metadata.namespace
            m.name = w.metadata.name
            m.node = w.node
            m.identity = snapshot.identity(of: w)?.uri ?? ""
            m.addresses = w.addresses.map(\.description)
            m.inMesh = snapshot.isEnrolled(w)
            m.reason = Self.enrolmentReason(w, in: snapshot)
            return m
        }
    }

    /// Why a workload is (not) in the mesh, in the words of the labels that decide it.
    static func enrolmentReason(_ w: Workload, in snapshot: MeshSnapshot) -> String {
        if let gateway = w.metadata.labels[MeshLabels.gatewayName] { return "waypoint \(gateway) (terminates HBONE itself)" }
        switch w.metadata.labels[MeshLabels.dataplaneMode] {
        case MeshLabels.none: return "opted out: \(MeshLabels.dataplaneMode)=\(MeshLabels.none)"
        case MeshLabels.ambient: return "\(MeshLabels.dataplaneMode)=\(MeshLabels.ambient) on the workload"
        default:
            if snapshot.isEnrolled(w) { return "\(MeshLabels.dataplaneMode)=\(MeshLabels.ambient) on namespace \(w.metadata.namespace)" }
            return "no \(MeshLabels.dataplaneMode)=\(MeshLabels.ambient) label on the workload or namespace \(w.metadata.namespace)"
        }
    }

    static func waypoints(in snapshot: MeshSnapshot) -> [Ambit_V1_WaypointStatus] {
        snapshot.gateways.sorted { $0.metadata.key < $1.metadata.key }.map { g in
            var m = Ambit_V1_WaypointStatus()
            m.namespace = g.metadata.namespace
            m.name = g.metadata.name
            m.identity = snapshot.waypointIdentity(namespace: g.metadata.namespace, gateway: g.metadata.name)?.uri ?? ""
            m.services = snapshot.services.filter { snapshot.waypoint(for: $0)?.metadata.key == g.metadata.key }.map(\.metadata.key).sorted()
            return m
        }
    }

    // MARK: - Helpers

    private func authorize(_ context: ServerContext) throws {
        guard let posix = context.transportSpecific as? HTTP2ServerTransport.Posix.Context, let leaf = posix.peerCertificate,
            let id = try? SpiffeSAN.identity(of: leaf), id == admin
        else {
            throw RPCError(code: .permissionDenied, message: "the admin API needs the administrator's credentials (\(admin)); use the ambitconfig written by `ambit control`")
        }
    }

    /// Runs `body`, turning the registry's errors into gRPC statuses with their messages.
    private func rpc<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ResourceError {
            throw RPCError(code: .invalidArgument, message: "\(error)")
        } catch let error as StoreError {
            throw RPCError(code: error.code == .conflict ? .aborted : .unavailable, message: error.message)
        } catch let error as ControlError {
            throw RPCError(code: error.code == .notFound ? .notFound : .invalidArgument, message: error.message)
        }
    }

    static let kinds = ResourceDecoder.kinds

    /// Accepts `Workload`, `workload`, `workloads`: the spellings kubectl users type.
    static func kind(_ text: String) throws -> String {
        let lower = text.lowercased()
        if let k = kinds.first(where: { $0.lowercased() == lower || $0.lowercased() + "s" == lower }) { return k }
        if lower == "ns" { return "Namespace" }
        if lower == "svc" { return "Service" }
        throw RPCError(code: .invalidArgument, message: "unknown kind '\(text)'; known kinds: \(kinds.joined(separator: ", "))")
    }

    static func isClusterScoped(_ kind: String) -> Bool { kind == "Namespace" || kind == "MeshConfig" }

    static func result(_ o: Registry.Outcome) -> Ambit_V1_ResourceResult {
        var r = Ambit_V1_ResourceResult()
        r.kind = o.key.kind
        r.namespace = o.key.namespace
        r.name = o.key.name
        r.resourceVersion = String(o.resourceVersion)
        switch o.action {
        case .created: r.action = .created
        case .configured: r.action = .configured
        case .unchanged: r.action = .unchanged
        case .deleted: r.action = .deleted
        }
        return r
    }

    static func conditionValue(_ c: Condition) -> ConfigValue {
        var pairs: [(String, ConfigValue)] = [
            ("type", .string(c.type.rawValue)), ("status", .string(c.status.rawValue)), ("reason", .string(c.reason.rawValue)),
            ("message", .string(c.message)),
        ]
        if let parent = c.parent { pairs.append(("parent", .string("\(parent)"))) }
        return .map(pairs)
    }
}
