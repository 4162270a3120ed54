import AmbitCore
import Foundation
import NIOConcurrencyHelpers

/// Builds `MeshSnapshot`s from successive accepted sets, decoding only the resources whose
/// bytes changed since the last set that built.
///
/// A push carries a delta, but validating the candidate means building the whole snapshot;
/// decoding every document again on each change made a one-policy change cost a node as
/// much as its initial sync (1,000 documents parsed to accept 1). Reuse is keyed by type,
/// name and the exact body bytes, never by the version the control plane states, so a
/// wrong version cannot smuggle a stale document past validation.
public final class SnapshotDecoder: Sendable {
    private struct Decoded {
        let body: Data
        let resource: Resource
    }

    private let last = NIOLockedValueBox<[String: [String: Decoded]]>([:])

    public init() {}

    /// The snapshot of `config`, as `AcceptedConfig.meshSnapshot()` builds it; on success
    /// its decoded resources are kept for the next call.
    public func snapshot(of config: AcceptedConfig) throws(ResourceError) -> MeshSnapshot {
        let previous = last.withLockedValue { $0 }
        var next: [String: [String: Decoded]] = [:]
        var resources: [Resource] = []
        resources.reserveCapacity(config.resourceCount)
        for typeURL in ResourceTypes.all {
            guard let byName = config.resources[typeURL], let kind = ResourceTypes.kind(of: typeURL) else { continue }
            let before = previous[typeURL] ?? [:]
            var now: [String: Decoded] = [:]
            now.reserveCapacity(byName.count)
            for name in byName.keys.sorted() {
                let wire = byName[name]!
                let decoded: Decoded
                if let hit = before[name], hit.body == wire.body {
                    decoded = hit
                } else {
                    decoded = Decoded(body: wire.body, resource: try AcceptedConfig.decode(wire, kind: kind, typeURL: typeURL))
                }
                now[name] = decoded
                resources.append(decoded.resource)
            }
            next[typeURL] = now
        }
        let snapshot = try MeshSnapshot(resources)
        last.withLockedValue { $0 = next }
        return snapshot
    }
}
