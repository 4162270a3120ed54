import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What topology tests need from the machine, and what to do when something is missing.
///
/// The policy: a topology test never skips itself silently. Missing root or a missing tool
/// is an error that names the gap and the fix; the only way to skip is to say so with
/// `AMBIT_SKIP_ROOT_TESTS=1` (a laptop without root, never CI).
public enum TopologyRequirements {
    /// Set to `1` to skip root-only tests on purpose.
    public static let skipVariable = "AMBIT_SKIP_ROOT_TESTS"

    /// One thing that is missing, and how to fix it.
    public struct Missing: Sendable, Equatable, CustomStringConvertible {
        public let what: String
        public let fix: String
        public var description: String { "\(what): \(fix)" }
    }

    /// The commands the topology builder and the tests run, and their Debian packages.
    public static let tools: [(command: String, package: String)] = [
        ("ip", "iproute2"), ("nft", "nftables"), ("tcpdump", "tcpdump"),
    ]

    /// True when `AMBIT_SKIP_ROOT_TESTS=1` asks to skip root-only tests.
    public static func skipRequested(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment[skipVariable] == "1"
    }

    /// What is missing on this machine (empty when topology tests can run). Parameters
    /// exist so a test can check the messages with a fake PATH or a non-root user.
    public static func missing(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        effectiveUserID: uid_t = geteuid()
    ) -> [Missing] {
        let skipHint = "or set \(skipVariable)=1 to skip them on purpose"
        var missing: [Missing] = []
        if effectiveUserID != 0 {
            missing.append(Missing(
                what: "topology tests need root (they create network namespaces, veths and nftables rules; effective uid is \(effectiveUserID))",
                fix: "run them as root (sudo -E swift test), \(skipHint)"))
        }
        let path = environment["PATH"] ?? ""
        for tool in tools where locate(tool.command, path: path) == nil {
            missing.append(Missing(
                what: "`\(tool.command)` is not on PATH (\(path.isEmpty ? "PATH is empty" : path))",
                fix: "install it with `apt-get install -y \(tool.package)` (scripts/test.sh does this), add its directory (often /usr/sbin) to PATH, \(skipHint)"))
        }
        return missing
    }

    /// Throws `TopologyUnavailable` naming everything that is missing.
    public static func verify(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        effectiveUserID: uid_t = geteuid()
    ) throws {
        let gaps = missing(environment: environment, effectiveUserID: effectiveUserID)
        if !gaps.isEmpty { throw TopologyUnavailable(missing: gaps) }
    }

    /// The first executable file named `command` in the `:`-separated `path`.
    public static func locate(_ command: String, path: String) -> String? {
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(command)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// Topology tests cannot run here; the description lists each gap and its fix.
public struct TopologyUnavailable: Error, CustomStringConvertible, Sendable {
    public let missing: [TopologyRequirements.Missing]

    public init(missing: [TopologyRequirements.Missing]) {
        self.missing = missing
    }

    public var description: String {
        "topology tests cannot run on this machine:\n" + missing.map { "  - \($0)" }.joined(separator: "\n")
    }
}
