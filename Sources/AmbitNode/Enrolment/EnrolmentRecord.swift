import AmbitAPI
import Glibc

/// The daemon's memory of which pod namespaces it put rules into, kept in its state
/// directory so that a restarted daemon can remove the rules of pods that left while it
/// was down. One line per pod: `<workload key> <netns path> <inode>`.
///
/// It is written atomically (temporary file, fsync, rename), so a crash leaves either the
/// old list or the new one.
public struct EnrolmentRecord: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public let key: String
        public let netns: String
        public let inode: UInt64
    }

    public var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    public static func load(from path: String) -> EnrolmentRecord {
        guard let text = try? FileConfigSource.read(path) else { return EnrolmentRecord() }
        var entries: [Entry] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let inode = UInt64(parts[2]) else { continue }
            entries.append(Entry(key: String(parts[0]), netns: String(parts[1]), inode: inode))
        }
        return EnrolmentRecord(entries: entries)
    }

    public func save(to path: String) throws {
        let text = entries.map { "\($0.key) \($0.netns) \($0.inode)\n" }.joined()
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw NodeError(.enrolment, "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                close(fd)
                throw NodeError(.enrolment, "cannot write \(temporary): \(String(cString: strerror(errno)))")
            }
            written += n
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw NodeError(.enrolment, "cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
