import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// How a process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// It called `exit` with this code.
    case exited(Int32)
    /// A signal killed it.
    case signalled(Int32)
    /// Someone else collected the status first (only if SIGCHLD is ignored process-wide).
    case unknown

    /// Decodes a `waitpid` status word; Swift cannot see the `WIFEXITED` family of macros.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    public var succeeded: Bool { self == .exited(0) }

    /// The shell's convention: the exit code, or 128 + the signal.
    public var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signalled(let signal): 128 + signal
        case .unknown: -1
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signalled(let signal): "killed by signal \(signal)"
        case .unknown: "unknown exit status"
        }
    }
}

/// What a finished command printed and how it ended.
public struct CommandResult: Sendable, CustomStringConvertible {
    public let command: [String]
    public let status: ExitStatus
    public let stdout: String
    public let stderr: String

    public var succeeded: Bool { status.succeeded }
    /// The exit code (128 + signal when a signal ended it).
    public var exitCode: Int32 { status.code }

    /// This result, or an error quoting the command, its status and its stderr.
    @discardableResult
    public func checked() throws -> CommandResult {
        guard succeeded else { throw TestFailure("\(self)") }
        return self
    }

    public var description: String {
        let errors = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return "`\(command.joined(separator: " "))` ended with \(status)\(errors.isEmpty ? "" : ": \(errors)")"
    }
}

/// A child process started by a test, with stdout and stderr captured to files.
///
/// The child leads its own process group, so `terminate` also reaches anything it forked
/// (a shell's children). It is always signalled by its pid (the group's id), never by name,
/// and never after it has been reaped: a reaper thread first waits for the exit without
/// collecting it (`WNOWAIT`), records it under the lock the signalling side takes, and only
/// then reaps, so the pid cannot have been reused by the time anyone signals it.
public final class TestProcess: Sendable, CustomStringConvertible {
    public let pid: pid_t
    public let command: [String]
    public let stdoutPath: String
    public let stderrPath: String
    private let status: NIOLockedValueBox<ExitStatus?>

    /// Starts `command` (looked up on PATH). `environment` entries are added to (and
    /// override) this process's environment. Output goes to `outputPrefix.out`/`.err`.
    public static func spawn(
        _ command: [String], environment: [String: String] = [:], outputPrefix: String
    ) throws -> TestProcess {
        guard let executable = command.first else { throw TestFailure("cannot spawn an empty command") }
        let stdoutPath = outputPrefix + ".out"
        let stderrPath = outputPrefix + ".err"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Descriptors the test process left inheritable (a listener, a pipe) must not keep
        // living in a daemon or tcpdump after the test closed its end.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // SwiftNIO ignores SIGPIPE and threads may block signals; a child inheriting either
        // would not behave like a process started from a shell.
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        let argv = command.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw TestFailure("cannot start `\(command.joined(separator: " "))`: \(String(cString: strerror(rc)))")
        }
        let process = TestProcess(pid: pid, command: command, stdoutPath: stdoutPath, stderrPath: stderrPath)
        process.startReaper()
        return process
    }

    private init(pid: pid_t, command: [String], stdoutPath: String, stderrPath: String) {
        self.pid = pid
        self.command = command
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.status = NIOLockedValueBox(nil)
    }

    /// nil while it runs.
    public var exitStatus: ExitStatus? { status.withLockedValue { $0 } }
    public var isRunning: Bool { exitStatus == nil }

    /// Everything it wrote to stdout so far.
    public var stdout: String { Self.text(at: stdoutPath) }
    /// Everything it wrote to stderr so far.
    public var stderr: String { Self.text(at: stderrPath) }
    /// stdout then stderr, for failure messages.
    public var output: String {
        let (out, err) = (stdout, stderr)
        return err.isEmpty ? out : out.isEmpty ? err : out + "\n--- stderr ---\n" + err
    }

    /// Waits until it exits; throws if it is still running after `timeout` seconds.
    @discardableResult
    public func waitForExit(timeout: Double) async throws -> ExitStatus {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let status = exitStatus { return status }
            if Date() >= deadline {
                throw TestFailure("`\(command.joined(separator: " "))` (pid \(pid)) still runs after \(timeout) s")
            }
            try await Task.sleep(nanoseconds: 2_000_000)
        }
    }

    /// Sends `signal` to its process group and to it, unless it has already exited.
    public func signal(_ signal: Int32) {
        status.withLockedValue { status in
            guard status == nil else { return }
            kill(-pid, signal)
            kill(pid, signal)
        }
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace` seconds. Returns how it ended.
    @discardableResult
    public func terminate(grace: Double = 3) async -> ExitStatus {
        if let status = exitStatus { return status }
        signal(SIGTERM)
        if let status = try? await waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        return (try? await waitForExit(timeout: 10)) ?? .unknown
    }

    public var description: String { "`\(command.joined(separator: " "))` (pid \(pid), \(exitStatus?.description ?? "running"))" }

    /// A thread per child blocks in `waitid`; children are few and short-lived in tests.
    private func startReaper() {
        let thread = Thread { [self] in
            var info = siginfo_t()
            var waited: Int32
            repeat {
                waited = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
            } while waited != 0 && errno == EINTR
            status.withLockedValue { status in
                var word: Int32 = 0
                var reaped: pid_t
                repeat {
                    reaped = waitpid(pid, &word, 0)
                } while reaped < 0 && errno == EINTR
                status = reaped == pid ? ExitStatus(waitStatus: word) : .unknown
            }
        }
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// glibc 2.34+ has `posix_spawn_file_actions_addclosefrom_np`, but Swift's Glibc module
    /// does not export it, so it is looked up at run time (nil on older C libraries).
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static func text(at path: String) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
