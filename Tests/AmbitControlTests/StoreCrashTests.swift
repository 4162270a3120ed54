import AmbitControl
import AmbitCore
import AmbitTesting
import Foundation
import Testing

/// Kills a process that is committing batches with `kill -9` at random moments, again and
/// again on one directory, and checks after every kill that the store kept its promises:
/// every batch the process was told is committed is there, and every batch is all there or
/// not there at all.
@Suite struct StoreCrashTests {
    /// `ambit-store-stress`, built next to the test bundle by `swift build --build-tests`.
    static func stressBinary() throws -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let candidate = (exe as NSString).deletingLastPathComponent + "/ambit-store-stress"
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestFailure("ambit-store-stress is not at \(candidate); build it first with `swift build --build-tests`")
        }
        return candidate
    }

    /// The document `ambit-store-stress` writes for resource `i` of batch `b`, derived here
    /// independently so the test checks content, not just presence.
    static func expectedDocument(batch b: UInt64, index i: Int) -> ConfigValue {
        CanonicalJSON.canonical(.map([
            ("apiVersion", .string("ambit.dev/v1")),
            ("kind", .string("Workload")),
            ("metadata", .map([
                ("annotations", .map([("stress.ambit.dev/batch", .string("\(b)")), ("stress.ambit.dev/index", .string("\(i)"))])),
                ("labels", .map([("stress.ambit.dev/batch", .string("\(b)"))])),
                ("name", .string("w-\(b)-\(i)")),
                ("namespace", .string("stress")),
            ])),
            ("spec", .map([("addresses", .list([.string("10.\(i).\((b >> 8) & 255).\(b & 255)")])), ("node", .string("node-1"))])),
        ]))
    }

    /// The revisions a run printed as committed.
    static func committed(_ output: String) -> [UInt64] {
        output.split(separator: "\n").compactMap { line in
            line.hasPrefix("committed ") ? UInt64(line.dropFirst("committed ".count)) : nil
        }
    }

    /// Checks the store against every promise made so far; returns the recovered revision.
    static func check(_ store: FileStore, promised: UInt64, round: Int) -> UInt64 {
        let revision = store.revision
        #expect(revision >= promised, "round \(round): revision \(revision) but \(promised) was reported committed")
        let resources = store.snapshot().resources
        let batches = Dictionary(grouping: resources) { UInt64($0.labels["stress.ambit.dev/batch"] ?? "") ?? 0 }
        // One revision per batch, and every revision's batch present: nothing lost, nothing extra.
        #expect(batches.count == Int(revision), "round \(round): \(batches.count) batches at revision \(revision)")
        #expect(Set(batches.keys) == Set(revision == 0 ? [] : Array(1...revision)), "round \(round)")
        var expectedCount = 0
        for b in 1...max(revision, 1) where revision > 0 {
            let size = Int(1 + b % 5)
            expectedCount += size
            #expect(batches[b]?.count == size, "round \(round): batch \(b) has \(batches[b]?.count ?? 0) of its \(size) resources")
            for i in 0..<size {
                let key = ResourceKey(kind: "Workload", namespace: "stress", name: "w-\(b)-\(i)")
                guard let r = store.get(key) else {
                    Issue.record("round \(round): \(key) of batch \(b) is missing")
                    continue
                }
                #expect(r.resourceVersion == b)
                #expect(r.labels == ["stress.ambit.dev/batch": "\(b)"])
                #expect(r.document == expectedDocument(batch: b, index: i), "round \(round): \(key)")
            }
        }
        #expect(resources.count == expectedCount)
        return revision
    }

    @Test(.timeLimit(.minutes(5)))
    func killedMidWriteLosesNoCommittedBatchAndTearsNone() async throws {
        let binary = try Self.stressBinary()
        let dir = try TemporaryDirectory("crash")
        defer { dir.remove() }
        var promised: UInt64 = 0
        var truncations = 0
        var compactions = 0
        for round in 1...10 {
            // A small compaction threshold, so some kills land in or around a snapshot.
            let process = try TestProcess.spawn(
                [binary, dir.store, "--compact-bytes", "32768"], outputPrefix: "\(dir.path)/round-\(round)")
            let deadline = Date().addingTimeInterval(20)
            // Start the random window at the first commit, so every round writes something
            // (a debug build takes a moment to start and replay the log).
            while Self.committed(process.stdout).isEmpty, process.isRunning, Date() < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...400)))
            process.signal(SIGKILL)
            let status = try await process.waitForExit(timeout: 10)
            #expect(status == .signalled(SIGKILL), "round \(round): \(process.output)")
            let printed = Self.committed(process.stdout)
            #expect(!printed.isEmpty, "round \(round) committed nothing: \(process.output)")
            // Each run carries on from what the last one left.
            if let first = printed.first { #expect(first == promised + 1, "round \(round)") }
            promised = max(promised, printed.last ?? 0)

            let store = try FileStore(directory: dir.store)
            defer { store.close() }
            if store.recovery.truncatedBytes > 0 { truncations += 1 }
            if store.recovery.snapshotRevision > 0 { compactions += 1 }
            promised = Self.check(store, promised: promised, round: round)
        }
        #expect(promised > 10)
        print("crash test: \(promised) batches over 10 kills; \(truncations) torn tails cut off; \(compactions) opens started from a snapshot")
    }
}
