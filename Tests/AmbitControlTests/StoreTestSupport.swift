import AmbitControl
import AmbitCore
import Foundation
import Testing

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "store") throws {
        path = FileManager.default.temporaryDirectory.path + "/ambit-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Where a store goes: a subdirectory, so the store creates it (and its mode).
    var store: String { path + "/data" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The stores the protocol tests run against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory, file
    var testDescription: String { rawValue }

    /// A new empty store and what to do when the test is done with it.
    func make(watchBufferLimit: Int = 10_000) throws -> (any ResourceStore, @Sendable () -> Void) {
        switch self {
        case .memory:
            let store = MemoryStore(watchBufferLimit: watchBufferLimit)
            return (store, { store.close() })
        case .file:
            let dir = try TemporaryDirectory()
            let store = try FileStore(directory: dir.store, options: .init(watchBufferLimit: watchBufferLimit))
            return (store, {
                store.close()
                dir.remove()
            })
        }
    }
}

/// A Workload document as a user would write it, and its stored form.
func workload(_ name: String, namespace: String = "ns1", labels: [String: String] = [:], node: String = "node-1") -> StoredResource {
    let text = """
        apiVersion: ambit.dev/v1
        kind: Workload
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: {\(labels.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", "))}
        spec:
          node: \(node)
          addresses: [10.0.0.1]
        """
    let document = try! ConfigParser.documents(text, file: "test").first!
    return StoredResource(key: ResourceKey(kind: "Workload", namespace: namespace, name: name), labels: labels, document: document)
}

func namespace(_ name: String) -> StoredResource {
    let document = try! ConfigParser.documents("kind: Namespace\nmetadata: {name: \(name)}", file: "test").first!
    return StoredResource(key: ResourceKey(kind: "Namespace", name: name), document: document)
}

/// The message of the `StoreError` `body` throws, or a failure if it does not throw one.
func storeError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> StoreError? {
    do {
        try body()
        Issue.record("expected a StoreError", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Names and sizes of the files in a directory, sorted.
func files(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// The active (newest) log of a FileStore directory.
func newestLog(in directory: String) -> String {
    let logs = files(in: directory).filter { $0.hasPrefix("wal-") }
        .sorted { UInt64($0.dropFirst(4).dropLast(4))! < UInt64($1.dropFirst(4).dropLast(4))! }
    return directory + "/" + logs.last!
}

func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : -1
}

/// The permission bits of a file, e.g. 0o600.
func fileMode(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_mode & 0o777) : -1
}

func truncateFile(_ path: String, to size: Int) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.truncate(atOffset: UInt64(size))
}

func appendToFile(_ path: String, _ bytes: [UInt8]) throws {
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(bytes))
}

func overwriteByte(_ path: String, at offset: Int, xor mask: UInt8) throws {
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    data[offset] ^= mask
    try data.write(to: URL(fileURLWithPath: path))
}
