import AmbitCore
import Glibc
import Logging
import NIOConcurrencyHelpers

/// Where a data-plane process learns the mesh: workloads, services, policies.
///
/// The node daemon and the waypoint do not care whether a snapshot came from a file or
/// from the control plane; both feed the same stream. A source only ever yields snapshots that
/// validated: a bad update is logged and the last good snapshot stays in force.
public protocol ConfigSource: Sendable {
    /// The current snapshot first, then each accepted change.
    func snapshots() -> AsyncStream<MeshSnapshot>
}

/// Why a config file could not be used: the file, document, field and reason, as one sentence.
public struct ConfigSourceError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads the mesh from a YAML/JSON file and watches it for changes (`--config`).
///
/// The file is polled (mtime, size, inode), which also catches editors that replace the
/// file instead of writing it and works on every filesystem; a config change takes effect
/// within `pollInterval`.
public final class FileConfigSource: ConfigSource {
    public let path: String
    private let pollInterval: Double
    private let logger: Logger

    public init(path: String, pollInterval: Double = 0.5, logger: Logger = Logger(label: "ambit.config")) {
        self.path = path
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Reads and validates the file once: what `ambit node` does before it starts, so a
    /// bad file stops start-up with its error instead of running with nothing.
    public func load() throws -> MeshSnapshot {
        let text = try Self.read(path)
        do {
            return try MeshSnapshot(try ResourceDecoder.decodeFile(text, file: path))
        } catch {
            throw ConfigSourceError("\(error)")
        }
    }

    public func snapshots() -> AsyncStream<MeshSnapshot> {
        let path = self.path
        let interval = self.pollInterval
        let logger = self.logger
        return AsyncStream { continuation in
            let task = Task {
                var lastStamp: FileStamp?
                while !Task.isCancelled {
                    let stamp = FileStamp(path: path)
                    if stamp != lastStamp {
                        lastStamp = stamp
                        do {
                            let snapshot = try self.load()
                            continuation.yield(snapshot)
                            logger.info("config loaded", metadata: ["file": "\(path)", "workloads": "\(snapshot.workloads.count)", "services": "\(snapshot.services.count)"])
                        } catch {
                            logger.error("config rejected; keeping the last good one", metadata: ["error": "\(error)"])
                        }
                    }
                    try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    package static func read(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else {
            throw ConfigSourceError("cannot read the config file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { break }
            if bytes.count > 64 << 20 { throw ConfigSourceError("the config file \(path) is larger than 64 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// What changes when a file is rewritten or replaced.
struct FileStamp: Equatable {
    let inode: UInt64
    let size: Int64
    let seconds: Int
    let nanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
    }
}

/// A source that yields what it is given: tests feed it.
public final class StaticConfigSource: ConfigSource {
    private let broadcast: SnapshotBroadcast

    public init(_ snapshot: MeshSnapshot) {
        broadcast = SnapshotBroadcast(snapshot)
    }

    public func update(_ snapshot: MeshSnapshot) { broadcast.publish(snapshot) }

    public func snapshots() -> AsyncStream<MeshSnapshot> { broadcast.subscribe() }
}

/// The latest snapshot (once there is one) and every later one, to any number of
/// subscribers; each new subscriber gets the latest at once.
package final class SnapshotBroadcast: Sendable {
    private let state: NIOLockedValueBox<(current: MeshSnapshot?, continuations: [Int: AsyncStream<MeshSnapshot>.Continuation], next: Int)>

    package init(_ snapshot: MeshSnapshot? = nil) {
        state = NIOLockedValueBox((snapshot, [:], 0))
    }

    package var current: MeshSnapshot? { state.withLockedValue { $0.current } }

    package func publish(_ snapshot: MeshSnapshot) {
        let continuations = state.withLockedValue { s in
            s.current = snapshot
            return Array(s.continuations.values)
        }
        for c in continuations { c.yield(snapshot) }
    }

    package func subscribe() -> AsyncStream<MeshSnapshot> {
        AsyncStream { continuation in
            let id = state.withLockedValue { s -> Int in
                s.next += 1
                s.continuations[s.next] = continuation
                if let current = s.current { continuation.yield(current) }
                return s.next
            }
            continuation.onTermination = { [state] _ in state.withLockedValue { _ = $0.continuations.removeValue(forKey: id) } }
        }
    }
}
