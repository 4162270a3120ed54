// Test-only helper for the store's crash-consistency test (see Tests/AmbitControlTests):
// applies batches to a FileStore in a loop so a test can kill -9 it mid-write.
//
//     ambit-store-stress DIR [--compact-bytes N] [--batches N]
//
// Batch b (which becomes revision b) puts 1 + b % 5 Workloads `w-<b>-<i>` in namespace
// `stress`, each carrying b and i in its labels and annotations, so a checker can rebuild
// exactly what every batch wrote. After `apply` returns (the batch is fsynced) it prints
// `committed <b>` with a direct write(2), so the line is in the output file before the
// next batch starts: every printed revision is a promise the store must keep.
//
// With --batches it stops after N batches and prints apply latency percentiles to stderr.

#if canImport(Glibc)
import Glibc
#endif
import AmbitControl
import AmbitCore

func fail(_ message: String) -> Never {
    let line = "ambit-store-stress: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func say(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}

/// What batch `b` writes; the crash test derives the same documents independently.
func writes(batch b: UInt64) -> [StoreWrite] {
    (0..<Int(1 + b % 5)).map { i in
        let name = "w-\(b)-\(i)"
        let labels = ["stress.ambit.dev/batch": "\(b)"]
        let document = ConfigValue.map([
            ("apiVersion", .string("ambit.dev/v1")),
            ("kind", .string("Workload")),
            ("metadata", .map([
                ("name", .string(name)),
                ("namespace", .string("stress")),
                ("labels", .map([("stress.ambit.dev/batch", .string("\(b)"))])),
                ("annotations", .map([("stress.ambit.dev/batch", .string("\(b)")), ("stress.ambit.dev/index", .string("\(i)"))])),
            ])),
            ("spec", .map([
                ("node", .string("node-1")),
                ("addresses", .list([.string("10.\(i).\((b >> 8) & 255).\(b & 255)")])),
            ])),
        ])
        return .put(StoredResource(key: ResourceKey(kind: "Workload", namespace: "stress", name: name), labels: labels, document: document))
    }
}

func run() {
    var arguments = Array(CommandLine.arguments.dropFirst())
    var compactBytes = 128 << 10
    var limit: UInt64?
    var directory: String?
    while !arguments.isEmpty {
        let argument = arguments.removeFirst()
        switch argument {
        case "--compact-bytes", "--batches":
            guard let text = arguments.first, let n = Int(text), n > 0 else { fail("\(argument) needs a positive number") }
            arguments.removeFirst()
            if argument == "--batches" { limit = UInt64(n) } else { compactBytes = n }
        default:
            guard directory == nil, !argument.hasPrefix("-") else { fail("usage: ambit-store-stress DIR [--compact-bytes N] [--batches N]") }
            directory = argument
        }
    }
    guard let directory else { fail("usage: ambit-store-stress DIR [--compact-bytes N] [--batches N]") }

    let store: FileStore
    do {
        store = try FileStore(directory: directory, options: .init(compactionThreshold: compactBytes))
    } catch {
        fail("\(error)")
    }

    var latencies: [Int] = []
    var done: UInt64 = 0
    while limit.map({ done < $0 }) ?? true {
        let batch = store.revision + 1
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        let commit: StoreCommit
        do { commit = try store.apply(writes(batch: batch)) } catch { fail("batch \(batch): \(error)") }
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &end)
        guard commit.revision == batch else { fail("batch \(batch) committed as revision \(commit.revision)") }
        say("committed \(commit.revision)")
        latencies.append((end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec))
        done += 1
    }

    latencies.sort()
    func percentile(_ p: Double) -> String {
        let ns = latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        return String(Double(ns / 1000) / 1000) + " ms"
    }
    guard !latencies.isEmpty else { return }
    let report = "\(latencies.count) batches: p50 \(percentile(0.5)), p90 \(percentile(0.9)), p99 \(percentile(0.99)), max \(percentile(1))\n"
    _ = report.withCString { write(2, $0, strlen($0)) }
    store.close()
}

run()
