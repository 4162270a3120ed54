import AmbitAPI
import AmbitCore
import NIOConcurrencyHelpers

/// Each stored resource encoded for the wire (canonical JSON and its content version) once
/// per resource version and form, shared by every config stream.
///
/// Without it every stream re-encodes everything it is sent on every change: with 100
/// nodes and 1,000 workloads, a one-policy change cost 100,000 encodings, and the time to
/// reach every node grew with nodes × resources. With it, a change costs one encoding of
/// what changed, and each stream only picks and compares.
final class ResourceEncodings: Sendable {
    private struct Key: Hashable {
        let resource: ResourceKey
        let form: ScopedResource.Form
    }

    private let cache = NIOLockedValueBox<[Key: (version: UInt64, encoded: Ambit_V1_Resource)]>([:])

    /// The wire form of `scoped`, encoded now only if this version and form never were.
    func encoded(_ scoped: ScopedResource) -> Ambit_V1_Resource {
        let key = Key(resource: scoped.stored.key, form: scoped.form)
        let version = scoped.stored.resourceVersion
        if let hit = cache.withLockedValue({ $0[key] }), hit.version == version { return hit.encoded }
        let k = scoped.stored.key
        let encoded = Ambit_V1_Resource(name: k.namespace.isEmpty ? k.name : "\(k.namespace)/\(k.name)", document: scoped.document)
        cache.withLockedValue { $0[key] = (version, encoded) }
        return encoded
    }

    /// Forgets resources no longer stored, once the cache holds noticeably more entries
    /// than there are resources (each resource has at most two forms).
    func prune(keeping stored: [StoredResource]) {
        cache.withLockedValue { cache in
            guard cache.count > 2 * stored.count + 64 else { return }
            let live = Set(stored.map(\.key))
            cache = cache.filter { live.contains($0.key.resource) }
        }
    }
}
