import Synchronization

/// A `ResourceStore` that keeps everything in memory: for tests, and for a control plane
/// run in-process (a demo, an integration test) where nothing has to survive a restart.
///
/// It follows the protocol's contract exactly, including revisions, conflicts and the
/// watch buffer limit, so code tested against it behaves the same on a `FileStore`.
public final class MemoryStore: ResourceStore {
    private let core: StoreCore
    /// Serialises writers, so a batch is planned and published against the same revision.
    /// Holds whether the store is closed.
    private let writer = Mutex<Bool>(false)

    /// - Parameter watchBufferLimit: how many commits a watcher may fall behind before its
    ///   stream ends and it has to call `watch()` again.
    public init(watchBufferLimit: Int = 10_000) {
        core = StoreCore(state: StoreState(), watchBufferLimit: watchBufferLimit)
    }

    @discardableResult
    public func apply(_ batch: [StoreWrite]) throws(StoreError) -> StoreCommit {
        try writer.withLock { (closed: inout Bool) throws(StoreError) -> StoreCommit in
            guard !closed else { throw StoreError.closed }
            guard !batch.isEmpty else { return StoreCommit(revision: core.read { $0.revision }, changes: []) }
            let commit = try core.read { (state: StoreState) throws(StoreError) in try state.plan(batch) }
            core.publish(commit)
            return commit
        }
    }

    public func get(_ key: ResourceKey) -> StoredResource? { core.read { $0.get(key) } }

    public func list(kind: String, namespace: String?) -> [StoredResource] { core.state.list(kind: kind, namespace: namespace) }

    public var revision: UInt64 { core.read { $0.revision } }

    public func snapshot() -> StoreSnapshot { core.state.snapshot() }

    public func watch() -> StoreWatch { core.watch() }

    /// Refuses further writes and ends every watch stream. Reads keep working.
    public func close() {
        writer.withLock { $0 = true }
        core.close()
    }
}
