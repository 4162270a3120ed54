#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opening a `FileStore` directory: from its files back to the last committed state.
///
/// 1. Leftover `*.tmp` files are deleted: an atomic write that never reached its rename
///    was never part of the store.
/// 2. The newest snapshot that decodes and passes its checksum is loaded (a damaged one is
///    passed over; whether that loses anything is settled by step 3).
/// 3. The logs are read in order. Records at or below the snapshot's revision are skipped;
///    the rest must continue it one revision at a time and are replayed through the same
///    `StoreState.plan` an `apply` uses. A record that is not intact is a torn write only
///    if it is in the last log and no intact record follows it: it is cut off (the file is
///    truncated and synced) and its batch, never acknowledged, is dropped. Anything else, a
///    gap in the revisions, or a record that passes its checksum but does not decode, stops
///    the open with an error naming the file and the byte offset.
/// 4. Appends go on in the last log if it ends at the recovered revision, else in a new one.
enum FileStoreRecovery {
    struct Result {
        var state: StoreState
        var log: FileStore.ActiveLog
        var recovery: FileStore.Recovery
    }

    static func open(_ directory: String) throws(StoreError) -> Result {
        let names = try POSIX.listDirectory(directory)
        for name in names where name.hasSuffix(".tmp") { try POSIX.remove("\(directory)/\(name)") }
        var recovery = FileStore.Recovery()

        var state = StoreState()
        var snapshotProblem: String?
        for (revision, name) in numbered(names, prefix: "snapshot-", suffix: ".json").reversed() {
            let path = "\(directory)/\(name)"
            do {
                let snapshot = try StoreCodec.decodeSnapshot(POSIX.readAll(path))
                guard snapshot.revision == revision else { throw StoreCodec.DecodeError("it holds revision \(snapshot.revision)") }
                state = StoreState(snapshot: snapshot)
                recovery.snapshotRevision = revision
                break
            } catch {
                snapshotProblem = snapshotProblem ?? "\(name) is damaged (\(error))"
                recovery.skippedSnapshots.append(name)
            }
        }
        let base = state.revision

        let logs = numbered(names, prefix: "wal-", suffix: ".log")
        var previous: UInt64?  // the revision of the last record read, replayed or skipped
        var activeSize = LogFormat.headerSize
        var lastInLastLog: UInt64?  // the revision of the last record in the last log
        var lastRecord: [String: UInt64] = [:]  // per log: the revision of its last record
        for (index, (start, name)) in logs.enumerated() {
            let path = "\(directory)/\(name)"
            let isLast = index == logs.count - 1
            let bytes = try POSIX.readAll(path)
            guard bytes.count >= LogFormat.headerSize, Array(bytes[..<LogFormat.headerSize]) == LogFormat.magic else {
                throw StoreError.corrupt(path, offset: 0, "it does not start with the log header \"AMBITWAL\"")
            }
            var offset = LogFormat.headerSize
            while offset < bytes.count {
                guard let payload = LogFormat.payload(in: bytes, at: offset) else {
                    guard isLast, !LogFormat.hasRecord(in: bytes, after: offset) else {
                        throw StoreError.corrupt(
                            path, offset: offset,
                            isLast ? "a record fails its checksum, yet intact records follow it"
                                : "a record fails its checksum in a log that was complete when the next one started")
                    }
                    try cutTornTail(path, at: offset)
                    recovery.truncatedLog = name
                    recovery.truncatedAt = offset
                    recovery.truncatedBytes = bytes.count - offset
                    break
                }
                let batch: (revision: UInt64, writes: [StoreWrite])
                do throws(StoreCodec.DecodeError) { batch = try StoreCodec.decodeBatch(bytes[payload]) } catch {
                    throw StoreError.corrupt(path, offset: offset, "the record passes its checksum but does not decode: \(error)")
                }
                if offset == LogFormat.headerSize, batch.revision != start {
                    throw StoreError.corrupt(path, offset: offset, "its first record is revision \(batch.revision), but its name says \(start)")
                }
                if let previous, batch.revision != previous + 1 {
                    throw StoreError.corrupt(path, offset: offset, "revision \(batch.revision) follows revision \(previous): the batches between are missing")
                }
                if previous == nil, batch.revision > base + 1 {
                    throw missing(path, from: base + 1, to: batch.revision - 1, snapshotProblem)
                }
                previous = batch.revision
                if isLast { lastInLastLog = batch.revision }
                lastRecord[name] = batch.revision
                if batch.revision > base {
                    do throws(StoreError) { state.apply(try state.plan(batch.writes)) } catch {
                        throw StoreError.corrupt(path, offset: offset, "the record cannot be replayed: \(error.message)")
                    }
                    recovery.replayedBatches += 1
                }
                offset = payload.upperBound
            }
            if isLast { activeSize = offset }
        }

        // Append to the last log only if it ends exactly where the state does; otherwise
        // (no log yet, or a snapshot newer than every record) start a new one.
        let log: FileStore.ActiveLog
        if case let (start, name)? = logs.last {
            let path = "\(directory)/\(name)"
            let end = lastInLastLog ?? start - 1
            if end == state.revision {
                log = FileStore.ActiveLog(fd: try POSIX.open(path, O_WRONLY), path: path, start: start, size: activeSize)
            } else if start > state.revision + 1 {
                // An empty log is only created once the snapshot before it is durable.
                throw missing(path, from: state.revision + 1, to: start - 1, snapshotProblem)
            } else {
                log = try createLog(directory, start: state.revision + 1)
            }
        } else {
            log = try createLog(directory, start: state.revision + 1)
        }
        // Logs the snapshot covers (every record at or below it), other than the one in use.
        if recovery.snapshotRevision > 0 {
            let active = "wal-\(log.start).log"
            let covered = logs.map(\.1).filter { $0 != active && (lastRecord[$0] ?? 0) <= base }
            try removeObsolete(directory, snapshotRevision: recovery.snapshotRevision, logs: covered)
        }
        return Result(state: state, log: log, recovery: recovery)
    }

    private static func missing(_ path: String, from: UInt64, to: UInt64, _ snapshotProblem: String?) -> StoreError {
        let have = snapshotProblem.map { "; \($0)" } ?? ""
        let range = from == to ? "revision \(from) is" : "revisions \(from) to \(to) are"
        return StoreError.corrupt(path, offset: nil, "\(range) in neither a snapshot nor a log\(have)")
    }

    /// Cuts a torn last record off, durably, so the next append starts on a record boundary.
    private static func cutTornTail(_ path: String, at offset: Int) throws(StoreError) {
        let fd = try POSIX.open(path, O_WRONLY)
        defer { POSIX.close(fd) }
        try POSIX.truncate(fd, to: offset, path: path)
        try POSIX.syncData(fd, path: path)
    }

    /// Creates `wal-<start>.log` holding just the header, complete or not at all: written
    /// and synced under a temporary name, then renamed, so a log file always has its
    /// header. The descriptor is kept across the rename, and on any failure the file is
    /// removed again, so no empty log is left that claims revisions the store never wrote
    /// into it.
    static func createLog(_ directory: String, start: UInt64) throws(StoreError) -> FileStore.ActiveLog {
        let path = "\(directory)/wal-\(start).log"
        let temporary = path + ".tmp"
        let fd = try POSIX.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(StoreError) {
            try POSIX.write(fd, LogFormat.magic, at: 0, path: temporary)
            try POSIX.syncData(fd, path: temporary)
            try POSIX.rename(temporary, path)
            try POSIX.syncDirectory(directory)
        } catch {
            POSIX.close(fd)
            try? POSIX.remove(temporary)
            try? POSIX.remove(path)
            throw error
        }
        return FileStore.ActiveLog(fd: fd, path: path, start: start, size: LogFormat.headerSize)
    }

    /// Deletes what a snapshot at `snapshotRevision` makes unnecessary: older snapshots,
    /// and the named logs, which the caller knows hold no record after it.
    static func removeObsolete(_ directory: String, snapshotRevision: UInt64, logs: [String]) throws(StoreError) {
        let snapshots = numbered(try POSIX.listDirectory(directory), prefix: "snapshot-", suffix: ".json")
            .filter { $0.0 < snapshotRevision }.map(\.1)
        for name in logs + snapshots { try POSIX.remove("\(directory)/\(name)") }
        if !(logs + snapshots).isEmpty { try POSIX.syncDirectory(directory) }
    }

    /// `prefix<n>suffix` files, sorted by n.
    static func numbered(_ names: [String], prefix: String, suffix: String) -> [(UInt64, String)] {
        names.compactMap { name -> (UInt64, String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            // Revisions start at 1: a `wal-0.log` is not one of ours, and would underflow below.
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let n = UInt64(digits), n > 0 else { return nil }
            return (n, name)
        }.sorted { $0.0 < $1.0 }
    }
}
