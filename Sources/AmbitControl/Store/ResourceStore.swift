/// The source of truth for what users declared: resources by kind, namespace and name,
/// changed only in all-or-nothing batches, each batch one revision.
///
/// This is the seam between the control plane and where its config lives. `FileStore` is
/// the embedded default (a write-ahead log in the data directory); `MemoryStore` serves
/// tests and an in-process control plane; a Kubernetes API watch, or a store shared by
/// several control-plane replicas, can stand in later without the registry or the push
/// noticing.
///
/// ## Contract
///
/// - **Revisions.** `revision` starts at 0 for an empty store and grows by exactly one per
///   committed batch. Every resource's `resourceVersion` is the revision of the batch that
///   last wrote it, so it is never 0 once stored.
/// - **Atomicity.** `apply` either commits every write of the batch under one new revision,
///   or changes nothing and throws. When it returns, the batch is durable (for `FileStore`:
///   on disk, `fdatasync`ed) and already visible to `get`, `list` and `snapshot`.
/// - **Optimistic concurrency.** A write with an `expectedVersion` commits only if the
///   stored version equals it (0 means "must not exist"). One mismatch refuses the whole
///   batch with a `.conflict` error naming the resource, the expected and the stored
///   version; the caller re-reads and retries.
/// - **Watching.** `watch()` returns, atomically, a snapshot at some revision R and a
///   stream of every commit after R, in revision order, with no gaps and no duplicates:
///   applying the stream's commits to the snapshot in order reproduces the store. The
///   stream ends when the store closes, or when the consumer falls more than the store's
///   buffer limit behind (it never skips a commit instead); in both cases the consumer calls
///   `watch()` again and starts from the new snapshot, as a Kubernetes informer relists.
/// - **Blocking.** `apply` blocks for disk I/O. Call it from a thread that may block (a
///   `NIOThreadPool`, a dedicated thread), never from an event loop.
public protocol ResourceStore: AnyObject, Sendable {
    /// Commits `batch` atomically, or throws and changes nothing. An empty batch commits
    /// nothing and returns the current revision with no changes.
    @discardableResult
    func apply(_ batch: [StoreWrite]) throws(StoreError) -> StoreCommit

    func get(_ key: ResourceKey) -> StoredResource?

    /// The resources of one kind, sorted by key; `namespace` nil means every namespace.
    func list(kind: String, namespace: String?) -> [StoredResource]

    /// The revision of the last committed batch; 0 for a store never written.
    var revision: UInt64 { get }

    /// Every resource and the revision they are at, consistent with each other.
    func snapshot() -> StoreSnapshot

    /// A snapshot and, from the same instant, the stream of every later commit.
    func watch() -> StoreWatch
}

extension ResourceStore {
    public func list(kind: String) -> [StoredResource] { list(kind: kind, namespace: nil) }
}

/// One committed batch: its revision and what it changed, in the order the batch wrote it.
/// A delete of something that did not exist is not a change, so `changes` may be empty.
public struct StoreCommit: Hashable, Sendable {
    public let revision: UInt64
    public let changes: [StoreChange]

    public init(revision: UInt64, changes: [StoreChange]) {
        self.revision = revision
        self.changes = changes
    }
}

/// Every resource at one revision, sorted by key.
public struct StoreSnapshot: Hashable, Sendable {
    public let revision: UInt64
    public let resources: [StoredResource]

    public init(revision: UInt64, resources: [StoredResource]) {
        self.revision = revision
        self.resources = resources
    }
}

/// What `watch()` returns: the state at `snapshot.revision` and every commit after it.
public struct StoreWatch: Sendable {
    public let snapshot: StoreSnapshot
    /// Commits with revisions `snapshot.revision + 1`, `+ 2`, … in order.
    public let commits: AsyncStream<StoreCommit>
}

/// The error a `ResourceStore` throws. Like every Ambit module error it is a struct around
/// a code, so new cases never break callers, and its message says what to do next.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        /// An expected `resourceVersion` did not match (optimistic concurrency): re-read, retry.
        public static let conflict = Code("conflict")
        /// The batch itself is malformed (the same resource twice, an empty name, too big).
        public static let invalidBatch = Code("invalidBatch")
        /// Another process holds the data directory.
        public static let locked = Code("locked")
        /// A file in the data directory is damaged beyond a torn last write.
        public static let corrupt = Code("corrupt")
        /// A system call failed (disk full, permissions, I/O error).
        public static let io = Code("io")
        /// The store was closed, or stopped taking writes after an I/O error.
        public static let unavailable = Code("unavailable")
        public var description: String { name }
    }

    public let code: Code
    /// What was wrong, in words a person can act on.
    public let message: String
    /// The resource the error is about, when there is one (conflicts, invalid writes).
    public let resource: ResourceKey?

    public init(code: Code, message: String, resource: ResourceKey? = nil) {
        self.code = code
        self.message = message
        self.resource = resource
    }

    public var description: String { message }

    // MARK: - The messages, in one place so tests and docs can quote them exactly

    /// `expected` is what the writer read; `current` is what is stored (nil: nothing is).
    static func conflict(_ key: ResourceKey, expected: UInt64, current: UInt64?) -> StoreError {
        let want = expected == 0 ? "expected it not to exist (resourceVersion 0)" : "expected resourceVersion \(expected)"
        let have = current.map { "the stored resourceVersion is \($0)" } ?? "it does not exist"
        return StoreError(
            code: .conflict,
            message: "\(key): \(want), but \(have); re-read the resource and retry. Nothing in the batch was applied.",
            resource: key)
    }

    static func invalid(_ key: ResourceKey?, _ reason: String) -> StoreError {
        StoreError(code: .invalidBatch, message: (key.map { "\($0): " } ?? "") + reason + ". Nothing in the batch was applied.", resource: key)
    }

    static func io(_ operation: String, _ path: String, errno code: Int32) -> StoreError {
        StoreError(code: .io, message: "\(operation) \(path) failed: \(POSIX.describe(code))")
    }

    static func corrupt(_ path: String, offset: Int?, _ reason: String) -> StoreError {
        let at = offset.map { " at byte offset \($0)" } ?? ""
        return StoreError(
            code: .corrupt,
            message: "\(path) is damaged\(at): \(reason). This is not the torn last write a crash leaves "
                + "(that is repaired on start); restore the data directory from a backup, or move it aside to start empty.")
    }

    static func locked(_ directory: String, holder: String) -> StoreError {
        StoreError(
            code: .locked,
            message: "another ambit control\(holder) is using the data directory \(directory) (it holds \(directory)/lock); "
                + "stop it, or give this one a different data directory")
    }

    static let closed = StoreError(code: .unavailable, message: "the store is closed")
}
