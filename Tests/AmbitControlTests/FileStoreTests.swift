import AmbitControl
import AmbitCore
import Foundation
import Testing

/// What only the durable store does: survive a reopen, compact, repair a torn tail,
/// refuse real damage and a second opener.
@Suite struct FileStoreTests {
    /// Five batches, one per workload `w1`…`w5`, so batch n is revision n.
    private func fiveBatches(_ directory: String) throws -> StoreSnapshot {
        let store = try FileStore(directory: directory)
        defer { store.close() }
        for n in 1...5 { try store.apply([.put(workload("w\(n)", labels: ["n": "\(n)"]))]) }
        return store.snapshot()
    }

    @Test func reopeningRestoresEverything() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var store = try FileStore(directory: dir.store)
        try store.apply([.put(workload("a")), .put(workload("b", namespace: "ns2")), .put(namespace("ns1"))])
        try store.apply([.put(workload("a", labels: ["app": "a"]))])
        try store.apply([.delete(workload("b", namespace: "ns2").key)])
        let before = store.snapshot()
        store.close()

        store = try FileStore(directory: dir.store)
        defer { store.close() }
        #expect(store.snapshot() == before)
        #expect(store.revision == 3)
        #expect(store.recovery.replayedBatches == 3)
        #expect(store.get(workload("a").key)?.labels == ["app": "a"])
        // Numbering carries on.
        #expect(try store.apply([.put(workload("c"))]).revision == 4)
    }

    @Test func filesArePrivate() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileStore(directory: dir.store)
        try store.apply([.put(workload("a"))])
        try store.compact()
        store.close()
        #expect(fileMode(dir.store) == 0o700)
        #expect(files(in: dir.store) == ["lock", "snapshot-1.json", "wal-2.log"])
        for name in files(in: dir.store) { #expect(fileMode(dir.store + "/" + name) == 0o600, "\(name)") }
    }

    @Test func compactionKeepsEverythingAndDropsOldFiles() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let options = FileStore.Options(compactionThreshold: 2048)
        var store = try FileStore(directory: dir.store, options: options)
        for n in 1...60 {
            var batch: [StoreWrite] = [.put(workload("w\(n % 17)", labels: ["n": "\(n)"]))]
            if n % 7 == 0 { batch.append(.delete(workload("w\((n + 3) % 17)").key)) }
            try store.apply(batch)
        }
        #expect(store.lastCompactionError == nil)
        let before = store.snapshot()
        store.close()
        let names = files(in: dir.store)
        #expect(names.filter { $0.hasPrefix("snapshot-") }.count == 1, "\(names)")
        #expect(names.filter { $0.hasPrefix("wal-") }.count == 1, "\(names)")

        store = try FileStore(directory: dir.store, options: options)
        #expect(store.snapshot() == before)
        #expect(store.recovery.snapshotRevision > 0)
        #expect(store.recovery.snapshotRevision + UInt64(store.recovery.replayedBatches) == 60)
        try store.apply([.put(workload("after"))])
        try store.compact()
        let after = store.snapshot()
        store.close()

        store = try FileStore(directory: dir.store, options: options)
        defer { store.close() }
        #expect(store.snapshot() == after)
        #expect(store.recovery.snapshotRevision == 61)
        #expect(store.recovery.replayedBatches == 0)
        #expect(files(in: dir.store) == ["lock", "snapshot-61.json", "wal-62.log"])
    }

    @Test func aTornTailIsCutOffAndEarlierBatchesStay() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = try fiveBatches(dir.store)
        let log = newestLog(in: dir.store)
        let size = fileSize(log)
        try truncateFile(log, to: size - 3)  // the crash hit while the fifth record was written

        var store = try FileStore(directory: dir.store)
        #expect(store.revision == 4)
        #expect(store.snapshot().resources == full.resources.filter { $0.resourceVersion <= 4 })
        #expect(store.recovery.truncatedLog == "wal-1.log")
        #expect(store.recovery.truncatedAt == fileSize(log))
        #expect(store.recovery.truncatedBytes == size - 3 - fileSize(log))
        // The log goes on from the cut, and the result reads back.
        #expect(try store.apply([.put(workload("again"))]).revision == 5)
        let after = store.snapshot()
        store.close()
        store = try FileStore(directory: dir.store)
        defer { store.close() }
        #expect(store.snapshot() == after)
        #expect(store.recovery.truncatedLog == nil)
    }

    @Test(arguments: [[UInt8](repeating: 0, count: 4096), Array("garbage after the last record".utf8), [0x40, 0, 0, 0]])
    func bytesAfterTheLastRecordAreCutOff(tail: [UInt8]) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = try fiveBatches(dir.store)
        let log = newestLog(in: dir.store)
        let size = fileSize(log)
        try appendToFile(log, tail)

        let store = try FileStore(directory: dir.store)
        defer { store.close() }
        #expect(store.snapshot() == full)
        #expect(store.recovery.truncatedAt == size)
        #expect(store.recovery.truncatedBytes == tail.count)
        #expect(fileSize(log) == size)
    }

    @Test func damageBeforeTheLastRecordRefusesToOpen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try fiveBatches(dir.store)
        let log = newestLog(in: dir.store)
        try overwriteByte(log, at: 8 + 8 + 20, xor: 0x01)  // inside the first record's payload

        let error = storeError { _ = try FileStore(directory: dir.store) }
        #expect(error?.code == .corrupt)
        #expect(error?.message == "\(log) is damaged at byte offset 8: a record fails its checksum, yet intact records follow it. "
            + "This is not the torn last write a crash leaves (that is repaired on start); restore the data directory from a backup, or move it aside to start empty.")
        // Refusing changed nothing: the damaged file is still there for a person to look at.
        #expect(fileSize(log) > 8)
        // And the lock was released on the way out.
        try overwriteByte(log, at: 8 + 8 + 20, xor: 0x01)
        let store = try FileStore(directory: dir.store)
        #expect(store.revision == 5)
        store.close()
    }

    @Test func aDamagedSnapshotWhoseLogsAreGoneRefusesToOpen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try FileStore(directory: dir.store)
        for n in 1...3 { try store.apply([.put(workload("w\(n)"))]) }
        try store.compact()
        store.close()
        try overwriteByte(dir.store + "/snapshot-3.json", at: 60, xor: 0x20)

        let error = storeError { _ = try FileStore(directory: dir.store) }
        #expect(error?.message == "\(dir.store)/wal-4.log is damaged: revisions 1 to 3 are in neither a snapshot nor a log; "
            + "snapshot-3.json is damaged (the checksum does not match its contents). "
            + "This is not the torn last write a crash leaves (that is repaired on start); restore the data directory from a backup, or move it aside to start empty.")
    }

    /// A crash during compaction leaves the new snapshot next to the old log, with or
    /// without the new (empty) log. Either way nothing is lost and the leftovers go.
    @Test(arguments: [true, false])
    func aCrashDuringCompactionLosesNothing(newLogWasCreated: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = try fiveBatches(dir.store)
        let oldLog = try Data(contentsOf: URL(fileURLWithPath: dir.store + "/wal-1.log"))
        var store = try FileStore(directory: dir.store)
        try store.compact()
        store.close()
        try oldLog.write(to: URL(fileURLWithPath: dir.store + "/wal-1.log"))
        if !newLogWasCreated { try FileManager.default.removeItem(atPath: dir.store + "/wal-6.log") }

        store = try FileStore(directory: dir.store)
        #expect(store.snapshot() == full)
        #expect(store.recovery.snapshotRevision == 5)
        #expect(store.recovery.replayedBatches == 0)
        // The old log is deleted once a newer one takes over; otherwise it stays in use.
        #expect(files(in: dir.store) == (newLogWasCreated ? ["lock", "snapshot-5.json", "wal-6.log"] : ["lock", "snapshot-5.json", "wal-1.log"]))
        try store.apply([.put(workload("w6"))])
        let after = store.snapshot()
        store.close()
        store = try FileStore(directory: dir.store)
        defer { store.close() }
        #expect(store.snapshot() == after)
        #expect(store.recovery.replayedBatches == 1)
    }

    @Test func leftoverTemporaryFilesAreIgnored() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let full = try fiveBatches(dir.store)
        try Data("half a snapshot".utf8).write(to: URL(fileURLWithPath: dir.store + "/snapshot-9.json.tmp"))
        let store = try FileStore(directory: dir.store)
        defer { store.close() }
        #expect(store.snapshot() == full)
        #expect(!files(in: dir.store).contains("snapshot-9.json.tmp"))
    }

    @Test func aSecondOpenerIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let first = try FileStore(directory: dir.store)
        try first.apply([.put(workload("a"))])

        let error = storeError { _ = try FileStore(directory: dir.store) }
        #expect(error?.code == .locked)
        #expect(error?.message == "another ambit control (pid \(getpid())) is using the data directory \(dir.store) "
            + "(it holds \(dir.store)/lock); stop it, or give this one a different data directory")

        first.close()
        let second = try FileStore(directory: dir.store)
        defer { second.close() }
        #expect(second.revision == 1)
    }

    @Test func aMissingParentIsReported() {
        let error = storeError { _ = try FileStore(directory: "/nonexistent-ambit-parent/data") }
        #expect(error?.message == "create directory /nonexistent-ambit-parent/data failed: No such file or directory")
    }
}
