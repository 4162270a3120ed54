import Synchronization

/// The resources at one revision, and the rules for what a batch may do to them. Pure
/// value logic shared by every store, so `MemoryStore` and `FileStore` (including its log
/// replay) cannot disagree about what a batch means.
struct StoreState: Sendable {
    private(set) var revision: UInt64 = 0
    private var byKind: [String: [ResourceKey: StoredResource]] = [:]

    var count: Int { byKind.values.reduce(0) { $0 + $1.count } }

    func get(_ key: ResourceKey) -> StoredResource? { byKind[key.kind]?[key] }

    func list(kind: String, namespace: String?) -> [StoredResource] {
        guard let all = byKind[kind] else { return [] }
        let selected = namespace.map { ns in all.values.filter { $0.key.namespace == ns } } ?? Array(all.values)
        return selected.sorted { $0.key < $1.key }
    }

    func snapshot() -> StoreSnapshot {
        StoreSnapshot(revision: revision, resources: byKind.values.flatMap(\.values).sorted { $0.key < $1.key })
    }

    /// The commit `batch` would make on top of this state, or the reason it may not;
    /// changes nothing either way. Every write is checked before any change is computed,
    /// so the first problem in batch order is the one reported.
    func plan(_ batch: [StoreWrite]) throws(StoreError) -> StoreCommit {
        var seen: Set<ResourceKey> = []
        for write in batch {
            let key = write.key
            guard !key.kind.isEmpty, !key.name.isEmpty else { throw StoreError.invalid(key, "a resource needs a kind and a name") }
            // Two writes to one resource in a batch have no obvious meaning (which wins?),
            // and a file that defines something twice is almost always a mistake.
            guard seen.insert(key).inserted else { throw StoreError.invalid(key, "the batch writes this resource more than once") }
            if let expected = write.expectedVersion {
                let current = get(key)?.resourceVersion
                let matches = expected == 0 ? current == nil : current == expected
                guard matches else { throw StoreError.conflict(key, expected: expected, current: current) }
            }
        }
        let next = revision + 1
        var changes: [StoreChange] = []
        changes.reserveCapacity(batch.count)
        for write in batch {
            switch write {
            case .put(var resource, _):
                resource.resourceVersion = next
                changes.append(.put(resource))
            case .delete(let key, _):
                if let old = get(key) { changes.append(.delete(old)) }
            }
        }
        return StoreCommit(revision: next, changes: changes)
    }

    /// Applies a commit `plan` made from this very state.
    mutating func apply(_ commit: StoreCommit) {
        precondition(commit.revision == revision + 1, "commit \(commit.revision) applied at revision \(revision)")
        for change in commit.changes {
            let key = change.key
            switch change {
            case .put(let resource):
                byKind[key.kind, default: [:]][key] = resource
            case .delete:
                byKind[key.kind]?[key] = nil
                if byKind[key.kind]?.isEmpty == true { byKind[key.kind] = nil }
            }
        }
        revision = commit.revision
    }

    /// Loads a snapshot read from disk; the resources must have distinct keys.
    init(snapshot: StoreSnapshot) {
        revision = snapshot.revision
        for resource in snapshot.resources { byKind[resource.key.kind, default: [:]][resource.key] = resource }
    }

    init() {}
}

/// The state every reader sees, and the watchers to tell about each commit. Writers are
/// serialised by their store (one `apply` at a time plans and publishes), so publishing
/// here only has to be atomic with respect to readers and new watchers.
final class StoreCore: Sendable {
    private struct Shared {
        var state: StoreState
        var watchers: [Int: AsyncStream<StoreCommit>.Continuation] = [:]
        var closed = false
    }

    private let shared: Mutex<Shared>
    private let nextWatcher = Atomic<Int>(0)
    /// How many commits a watcher may fall behind before its stream ends (see `watch`).
    let watchBufferLimit: Int

    init(state: StoreState, watchBufferLimit: Int) {
        shared = Mutex(Shared(state: state))
        self.watchBufferLimit = max(1, watchBufferLimit)
    }

    /// The current state. A copy is O(1) (copy-on-write dictionaries), so readers that sort
    /// or filter do it outside the lock and never hold up a commit.
    var state: StoreState { shared.withLock { $0.state } }

    /// Runs a short question (a lookup, planning a batch) against the current state under
    /// the lock. Unlike `state`, it leaves no copy alive, so the next publish mutates the
    /// dictionaries in place instead of copying them.
    func read<T, E: Error>(_ body: (StoreState) throws(E) -> T) throws(E) -> T {
        try shared.withLock { (shared: inout Shared) throws(E) -> T in try body(shared.state) }
    }

    func publish(_ commit: StoreCommit) {
        let overflowed = shared.withLock { shared -> [AsyncStream<StoreCommit>.Continuation] in
            shared.state.apply(commit)
            var overflowed: [AsyncStream<StoreCommit>.Continuation] = []
            for (id, watcher) in shared.watchers {
                // A full buffer keeps the oldest commits, so what the watcher already has is
                // still a gapless prefix; ending the stream there tells it to re-watch.
                if case .dropped = watcher.yield(commit) {
                    shared.watchers[id] = nil
                    overflowed.append(watcher)
                }
            }
            return overflowed
        }
        // Outside the lock: finishing runs onTermination, which takes the lock.
        for watcher in overflowed { watcher.finish() }
    }

    func watch() -> StoreWatch {
        let (stream, continuation) = AsyncStream.makeStream(of: StoreCommit.self, bufferingPolicy: .bufferingOldest(watchBufferLimit))
        let id = nextWatcher.add(1, ordering: .relaxed).newValue
        continuation.onTermination = { [weak self] _ in
            _ = self?.shared.withLock { $0.watchers.removeValue(forKey: id) }
        }
        let (state, open) = shared.withLock { shared in
            if !shared.closed { shared.watchers[id] = continuation }
            return (shared.state, !shared.closed)
        }
        if !open { continuation.finish() }
        return StoreWatch(snapshot: state.snapshot(), commits: stream)
    }

    /// Ends every watcher's stream; later `watch()` streams end at once.
    func close() {
        let watchers = shared.withLock { shared in
            shared.closed = true
            defer { shared.watchers = [:] }
            return Array(shared.watchers.values)
        }
        for watcher in watchers { watcher.finish() }
    }
}
