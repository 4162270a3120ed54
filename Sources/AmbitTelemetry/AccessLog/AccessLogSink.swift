#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// Where access-log lines go. An implementation must write each line whole: two lines
/// logged at the same time from two threads never interleave.
public protocol AccessLogSink: Sendable {
    /// Writes `line` followed by a newline. `line` has no newline of its own.
    func writeLine(_ line: String)
}

/// Renders records in one format and hands the lines to a sink; what a daemon holds.
public final class AccessLog: Sendable {
    public let format: AccessLogFormat
    public let sink: any AccessLogSink

    /// By default logfmt text on standard output, where the container runtime collects it.
    public init(format: AccessLogFormat = .text, sink: any AccessLogSink = FileDescriptorAccessLogSink.standardOutput) {
        self.format = format
        self.sink = sink
    }

    public func log(_ record: AccessLogRecord) {
        sink.writeLine(format.render(record))
    }
}

// MARK: - File descriptor

/// Writes lines to a file descriptor (standard output, a pipe, a file opened for append).
///
/// Each line goes out in one write(2) call, so lines from other processes sharing the
/// descriptor (a pipe is atomic up to PIPE_BUF, an O_APPEND file per call) do not split
/// ours; a lock keeps this process's own writers in turn, including across the rare partial
/// write. Writes block the calling thread like any logger's, so keep the sink on a fast
/// destination. A line that cannot be written (closed pipe, full disk, a non-blocking
/// descriptor stuck for a second) is dropped and counted, never retried forever.
///
/// Writing to a closed pipe raises SIGPIPE; daemons are expected to ignore that signal.
public final class FileDescriptorAccessLogSink: AccessLogSink {
    /// Standard output, not closed by the sink.
    public static let standardOutput = FileDescriptorAccessLogSink(fileDescriptor: STDOUT_FILENO)

    private let fileDescriptor: Int32
    private let ownsDescriptor: Bool
    /// Serialises writers and counts lines that could not be written.
    private let dropped = NIOLockedValueBox(0)

    /// Writes to `fileDescriptor`; closes it on deinit only when `takingOwnership`.
    public init(fileDescriptor: Int32, takingOwnership: Bool = false) {
        self.fileDescriptor = fileDescriptor
        self.ownsDescriptor = takingOwnership
    }

    /// Opens `path` for appending (creating it, mode 0644) and owns the descriptor.
    public convenience init(appendingTo path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TelemetryError(
                .openFailed,
                "cannot open access log '\(path)' for appending: \(String(cString: strerror(errno))); check that the directory exists and is writable"
            )
        }
        self.init(fileDescriptor: fd, takingOwnership: true)
    }

    deinit {
        if ownsDescriptor { close(fileDescriptor) }
    }

    /// Lines dropped because the descriptor refused them.
    public var droppedLines: Int { dropped.withLockedValue { $0 } }

    public func writeLine(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        dropped.withLockedValue { droppedCount in
            if !writeAll(bytes) { droppedCount += 1 }
        }
    }

    /// One write(2) for the whole line; loops only for interrupts and partial writes.
    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fileDescriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written >= 0 {
                    offset += written
                    continue
                }
                switch errno {
                case EINTR:
                    continue
                case EAGAIN, EWOULDBLOCK:
                    // A non-blocking descriptor (stdout shared with an event loop library):
                    // wait a little for room rather than spin, then give up on this line.
                    var poller = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
                    if poll(&poller, 1, 1000) <= 0 { return false }
                default:
                    return false
                }
            }
            return true
        }
    }
}

// MARK: - Memory

/// Keeps lines in memory; for tests and for an admin endpoint showing recent entries.
public final class MemoryAccessLogSink: AccessLogSink {
    private let storage = NIOLockedValueBox<[String]>([])
    /// The most lines kept; older ones are dropped first. Nil keeps everything.
    public let capacity: Int?

    public init(capacity: Int? = nil) {
        self.capacity = capacity
    }

    public func writeLine(_ line: String) {
        storage.withLockedValue { lines in
            lines.append(line)
            if let capacity, lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        }
    }

    /// The lines written so far, oldest first, without newlines.
    public var lines: [String] { storage.withLockedValue { $0 } }

    /// Forgets every line.
    public func removeAll() { storage.withLockedValue { $0.removeAll() } }
}
