import AmbitCore
import NIOConcurrencyHelpers

/// What users declare, validated: the layer between the admin API and the store.
///
/// An apply is checked whole before anything is written: every document must decode
/// (`ResourceDecoder`: kinds, fields, types, values), and the mesh as it would be after the
/// batch must hold together (`MeshSnapshot`: no name or address defined twice). Then the
/// batch goes to the store as one atomic write, with optimistic concurrency for documents
/// that carry `metadata.resourceVersion`. A refused batch changes nothing.
///
/// The registry also keeps the current `MeshSnapshot`, rebuilt after every commit, which
/// the push and the CA read.
public final class Registry: Sendable {
    public enum Action: String, Sendable { case created, configured, unchanged, deleted }

    public struct Outcome: Sendable, Equatable {
        public let key: ResourceKey
        public let action: Action
        public let resourceVersion: UInt64
    }

    public let store: any ResourceStore
    /// The store decoded once per revision: every apply checks the mesh it would make
    /// against these, rather than decoding the whole store again.
    private struct Decoded: Sendable {
        var revision: UInt64
        var resources: [ResourceKey: Resource]
        var snapshot: MeshSnapshot
    }
    private let current: NIOLockedValueBox<Decoded>

    public init(store: any ResourceStore) throws {
        self.store = store
        let snap = store.snapshot()
        let resources = Self.decode(snap.resources)
        current = NIOLockedValueBox(Decoded(revision: snap.revision, resources: resources, snapshot: try MeshSnapshot(Array(resources.values))))
    }

    /// The mesh as stored now.
    public var snapshot: MeshSnapshot { refreshed().snapshot }
    public var revision: UInt64 { refreshed().revision }

    // MARK: - Writing

    /// Validates and applies every document in `text` (YAML or JSON, one or more documents)
    /// as one batch. With `dryRun`, validates only.
    @discardableResult
    public func apply(_ text: String, file: String, dryRun: Bool = false) throws -> [Outcome] {
        var writes: [StoreWrite] = []
        var typed: [ResourceKey: Resource] = [:]
        for (index, raw) in try ConfigParser.documents(text, file: file).enumerated() {
            if case .null = raw { continue }
            let (document, _) = try StoredResource.splitResourceVersion(raw)
            let resource: Resource
            do { resource = try ResourceDecoder.decode(document) } catch var error {
                error.file = file
                error.document = index + 1
                throw error
            }
            let key = Self.key(of: resource)
            guard typed[key] == nil else {
                throw ResourceError(file: file, document: index + 1, resource: "\(key)", path: "metadata.name", reason: "appears twice in this apply")
            }
            typed[key] = resource
            writes.append(try StoreWrite.put(document: raw, key: key, labels: resource.metadata?.labels ?? [:]))
        }
        // The mesh after the batch must still hold together.
        var after = Dictionary(uniqueKeysWithValues: store.snapshot().resources.map { ($0.key, $0) })
        var resources = refreshed().resources
        for (key, resource) in typed { resources[key] = resource }
        do { _ = try MeshSnapshot(Array(resources.values)) } catch var error {
            error.file = file
            throw error
        }
        let before = after
        if dryRun {
            return writes.map { w in Outcome(key: w.key, action: Self.action(for: w, before: before[w.key]), resourceVersion: before[w.key]?.resourceVersion ?? 0) }
        }
        // Writes that change nothing are left out, so an unchanged apply is not a new revision.
        let effective = writes.filter { w in
            guard case .put(let r, let expected) = w, let old = before[w.key] else { return true }
            return expected != nil || old.document != r.document || old.labels != r.labels
        }
        let commit = try store.apply(effective)
        after = Dictionary(uniqueKeysWithValues: store.snapshot().resources.map { ($0.key, $0) })
        refresh()
        return writes.map { w in
            let changed = effective.contains { $0.key == w.key } && commit.changes.contains { $0.key == w.key }
            let action: Action = changed ? (before[w.key] == nil ? .created : .configured) : .unchanged
            return Outcome(key: w.key, action: action, resourceVersion: after[w.key]?.resourceVersion ?? 0)
        }
    }

    /// Deletes resources; missing ones are an error naming them.
    @discardableResult
    public func delete(_ keys: [ResourceKey]) throws -> [Outcome] {
        for key in keys where store.get(key) == nil {
            throw ControlError(.notFound, "\(key) not found")
        }
        let commit = try store.apply(keys.map { .delete($0) })
        refresh()
        return keys.map { Outcome(key: $0, action: .deleted, resourceVersion: commit.revision) }
    }

    /// Sets (value) or removes (nil) labels on one resource, as `kubectl label` does.
    @discardableResult
    public func label(_ key: ResourceKey, _ changes: [String: String?]) throws -> Outcome {
        guard let stored = store.get(key) else { throw ControlError(.notFound, "\(key) not found") }
        guard case .map(var top) = stored.document, let metaIndex = top.firstIndex(where: { $0.0 == "metadata" }),
            case .map(var meta) = top[metaIndex].1
        else { throw ControlError(.invalid, "\(key) has no metadata") }
        var labels = stored.labels
        for (k, v) in changes { labels[k] = v }
        let labelMap = ConfigValue.map(labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
        if let i = meta.firstIndex(where: { $0.0 == "labels" }) { meta[i].1 = labelMap } else { meta.append(("labels", labelMap)) }
        top[metaIndex].1 = .map(meta)
        let document = ConfigValue.map(top)
        let resource = try ResourceDecoder.decode(document)
        var resources = refreshed().resources
        resources[key] = resource
        _ = try MeshSnapshot(Array(resources.values))
        try store.apply([.put(StoredResource(key: key, labels: labels, document: document), expectedVersion: stored.resourceVersion)])
        refresh()
        return Outcome(key: key, action: .configured, resourceVersion: store.get(key)?.resourceVersion ?? 0)
    }

    // MARK: - Reading

    public func get(_ key: ResourceKey) -> StoredResource? { store.get(key) }
    public func list(kind: String, namespace: String?) -> [StoredResource] { store.list(kind: kind, namespace: namespace) }

    // MARK: - Helpers

    public static func key(of resource: Resource) -> ResourceKey {
        let meta = resource.metadata
        return ResourceKey(kind: resource.kind, namespace: meta?.namespace ?? "", name: meta?.name ?? "mesh")
    }

    static func action(for write: StoreWrite, before: StoredResource?) -> Action {
        guard let before else { return .created }
        if case .put(let r, _) = write, r.document == before.document, r.labels == before.labels { return .unchanged }
        return .configured
    }

    /// Stored documents were validated when written; one that no longer decodes (a schema
    /// change) is left out rather than taking the whole mesh down.
    static func decode(_ stored: [StoredResource]) -> [ResourceKey: Resource] {
        var out: [ResourceKey: Resource] = [:]
        for r in stored { out[r.key] = try? ResourceDecoder.decode(r.document) }
        return out
    }

    @discardableResult
    private func refreshed() -> Decoded {
        let revision = store.revision
        let cached = current.withLockedValue { $0 }
        if cached.revision == revision { return cached }
        return refresh()
    }

    @discardableResult
    private func refresh() -> Decoded {
        let snap = store.snapshot()
        let resources = Self.decode(snap.resources)
        let previous = current.withLockedValue { $0.snapshot }
        let built = Decoded(
            revision: snap.revision, resources: resources, snapshot: (try? MeshSnapshot(Array(resources.values))) ?? previous)
        current.withLockedValue { $0 = built }
        return built
    }
}
