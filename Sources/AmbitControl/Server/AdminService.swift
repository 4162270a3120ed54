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

    public init(registry: Registry, push: PushRegistry, admin: SpiffeID) {
        self.registry = registry
        self.push = push
        self.admin = admin
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
        var response = Ambit_V1_StatusResponse()
        response.version = String(registry.revision)
        response.nodes = push.statusMessages()
        var counts: [String: Int32] = [:]
        for resource in registry.store.snapshot().resources { counts[resource.key.kind, default: 0] += 1 }
        response.resourceCounts = counts
        return response
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
