#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The embedded `ResourceStore`: a write-ahead log and snapshots in the control plane's
/// data directory.
///
/// Files (the directory is created 0700, every file 0600):
///
/// - `lock`: held with `flock` while the store is open, so two control planes never write
///   one directory; it contains the holder's pid, for the error the second one prints.
/// - `wal-<first revision>.log`: committed batches, one framed record each (`LogFormat`).
///   `apply` appends the batch and `fdatasync`s before it returns.
/// - `snapshot-<revision>.json`: every resource at that revision (`StoreCodec`), written
///   once the active log passes `Options.compactionThreshold` bytes. It is written to a
///   temporary file, synced, renamed into place and the directory synced; then a new log
///   starts at the next revision and the older logs and snapshots are deleted.
///
/// Opening loads the newest intact snapshot and replays the logs after it. A torn last
/// record (the crash hit mid-append) is cut off, so a batch is never half applied; any
/// other damage refuses to open, naming the file and the byte offset (see `FileStoreRecovery`).
///
/// One `apply` at a time writes (they queue on a lock); reads never wait for a write's
/// I/O, they see the last published commit.
public final class FileStore: ResourceStore {
    public struct Options: Sendable {
        /// Log bytes after which a snapshot is written and older logs are deleted.
        public var compactionThreshold: Int
        /// How many commits a watcher may fall behind before its stream ends.
        public var watchBufferLimit: Int

        public init(compactionThreshold: Int = 64 << 20, watchBufferLimit: Int = 10_000) {
            self.compactionThreshold = compactionThreshold
            self.watchBufferLimit = watchBufferLimit
        }
    }

    /// What opening the directory found, for the control plane's start-up log line.
    public struct Recovery: Hashable, Sendable {
        /// The revision of the snapshot loaded; 0 if none.
        public var snapshotRevision: UInt64 = 0
        /// Batches replayed from the logs on top of it.
        public var replayedBatches = 0
        /// The log whose torn last record was cut off, if any.
        public var truncatedLog: String?
        /// Where the cut was made, and how many bytes it removed.
        public var truncatedAt = 0
        public var truncatedBytes = 0
        /// Damaged snapshots passed over because older ones and the logs covered them.
        public var skippedSnapshots: [String] = []
    }

    /// The log being appended to.
    struct ActiveLog {
        var fd: Int32
        var path: String
        /// The revision its first record has (its file name).
        var start: UInt64
        /// Its size, which is where the next record goes.
        var size: Int
    }

    private struct Writer {
        var log: ActiveLog
        var lockFD: Int32
        var closed = false
        /// Set when a write or sync failed: what is on disk is then unknown, so no further
        /// write is attempted until a restart recovers from the log.
        var failure: StoreError?
        /// Retry a failed compaction only after another threshold's worth of log.
        var nextCompactionAt: Int
        var lastCompactionError: StoreError?
    }

    public let directory: String
    public let options: Options
    public let recovery: Recovery
    private let core: StoreCore
    private let writer: Mutex<Writer>

    /// Opens (creating if needed) the store in `directory`. The parent must exist.
    public init(directory: String, options: Options = Options()) throws(StoreError) {
        try POSIX.makeDirectory(directory, mode: 0o700)
        let lockFD = try Self.lock(directory)
        let recovered: FileStoreRecovery.Result
        do throws(StoreError) { recovered = try FileStoreRecovery.open(directory) } catch {
            POSIX.close(lockFD)  // closing the descriptor releases the flock
            throw error
        }
        self.directory = directory
        self.options = options
        self.recovery = recovered.recovery
        core = StoreCore(state: recovered.state, watchBufferLimit: options.watchBufferLimit)
        writer = Mutex(Writer(log: recovered.log, lockFD: lockFD, nextCompactionAt: options.compactionThreshold))
    }

    deinit { close() }

    @discardableResult
    public func apply(_ batch: [StoreWrite]) throws(StoreError) -> StoreCommit {
        try writer.withLock { (w: inout Writer) throws(StoreError) -> StoreCommit in
            guard !w.closed else { throw StoreError.closed }
            if let failure = w.failure {
                throw StoreError(
                    code: .unavailable,
                    message: "the store takes no writes after an earlier I/O error (\(failure.message)); restart ambit control to recover from the log")
            }
            // The writer lock is held, so nobody else can publish between planning and ours.
            guard !batch.isEmpty else { return StoreCommit(revision: core.read { $0.revision }, changes: []) }
            let commit = try core.read { (state: StoreState) throws(StoreError) in try state.plan(batch) }
            let payload = StoreCodec.encodeCommit(commit)
            guard payload.count <= LogFormat.maximumPayload else {
                throw StoreError.invalid(nil, "the batch is \(payload.count) bytes as JSON, more than the \(LogFormat.maximumPayload) one log record holds; split it")
            }
            let record = LogFormat.frame(payload)
            do throws(StoreError) {
                try POSIX.write(w.log.fd, record, at: w.log.size, path: w.log.path)
                try POSIX.syncData(w.log.fd, path: w.log.path)
            } catch {
                // Best effort: cut off the partial record. Whether the batch reached the disk
                // is now unknown (after a failed fdatasync the kernel may have dropped the
                // dirty pages), so stop here rather than append after an unknown tail.
                _ = ftruncate(w.log.fd, off_t(w.log.size))
                w.failure = error
                throw error
            }
            w.log.size += record.count
            core.publish(commit)
            if w.log.size - LogFormat.headerSize >= w.nextCompactionAt {
                // The batch is durable and published; a failed compaction must not fail it.
                do throws(StoreError) {
                    try compact(&w)
                    w.lastCompactionError = nil
                } catch {
                    w.lastCompactionError = error
                    w.nextCompactionAt = w.log.size - LogFormat.headerSize + options.compactionThreshold
                }
            }
            return commit
        }
    }

    public func get(_ key: ResourceKey) -> StoredResource? { core.read { $0.get(key) } }

    public func list(kind: String, namespace: String?) -> [StoredResource] { core.state.list(kind: kind, namespace: namespace) }

    public var revision: UInt64 { core.read { $0.revision } }

    public func snapshot() -> StoreSnapshot { core.state.snapshot() }

    public func watch() -> StoreWatch { core.watch() }

    /// Why the last automatic compaction failed (it is retried later), nil if it did not.
    public var lastCompactionError: StoreError? { writer.withLock { $0.lastCompactionError } }

    /// Writes a snapshot now and deletes the logs and snapshots it makes obsolete.
    public func compact() throws(StoreError) {
        try writer.withLock { (w: inout Writer) throws(StoreError) in
            guard !w.closed else { throw StoreError.closed }
            try compact(&w)
        }
    }

    /// Releases the directory: ends watch streams, closes the files, drops the lock. Reads
    /// keep answering from memory; writes throw.
    public func close() {
        let wasOpen = writer.withLock { (w: inout Writer) -> Bool in
            guard !w.closed else { return false }
            w.closed = true
            POSIX.close(w.log.fd)
            POSIX.close(w.lockFD)
            return true
        }
        if wasOpen { core.close() }
    }

    // MARK: - Compaction

    private func compact(_ w: inout Writer) throws(StoreError) {
        let state = core.state
        // Nothing in the active log: the newest snapshot (or the empty store) already says it all.
        guard state.revision >= w.log.start else { return }
        let snapshotPath = "\(directory)/snapshot-\(state.revision).json"
        try POSIX.writeAtomically(StoreCodec.encodeSnapshot(state.snapshot()), to: snapshotPath, directory: directory)
        // From here a crash is harmless: opening takes the new snapshot and skips the
        // records it covers, whichever of the steps below happened.
        let next = try FileStoreRecovery.createLog(directory, start: state.revision + 1)
        POSIX.close(w.log.fd)
        w.log = next
        w.nextCompactionAt = options.compactionThreshold
        // Every older log holds only records up to the snapshot's revision.
        let older = FileStoreRecovery.numbered(try POSIX.listDirectory(directory), prefix: "wal-", suffix: ".log")
            .filter { $0.0 < next.start }.map(\.1)
        try FileStoreRecovery.removeObsolete(directory, snapshotRevision: state.revision, logs: older)
    }

    // MARK: - Lock

    private static func lock(_ directory: String) throws(StoreError) -> Int32 {
        let path = "\(directory)/lock"
        let fd = try POSIX.open(path, O_RDWR | O_CREAT)
        // flock, not fcntl locks: it belongs to this open file, so a second open in the same
        // process is refused too (tests rely on it), and the kernel drops it when the
        // process dies, however it dies.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = (try? POSIX.readAll(path)).map { String(decoding: $0, as: UTF8.self) }?
                .split(separator: "\n").first.map { " (pid \($0))" } ?? ""
            POSIX.close(fd)
            if code == EWOULDBLOCK { throw StoreError.locked(directory, holder: holder) }
            throw StoreError.io("lock", path, errno: code)
        }
        do throws(StoreError) {
            try POSIX.truncate(fd, to: 0, path: path)
            try POSIX.write(fd, Array("\(getpid())\n".utf8), at: 0, path: path)
        } catch {
            POSIX.close(fd)
            throw error
        }
        return fd
    }
}
