import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// Names of the namespaces topologies create, and the sweep that removes those of runs
/// that died before they could clean up.
///
/// Every name starts with `amb-<pid>-<index>-`: the pid keeps concurrent test processes
/// (other worktrees, CI jobs on the same host) apart, the index keeps topologies of one
/// process apart, and a pid that is no longer alive marks a leftover that is safe to delete.
enum TopologyNames {
    /// Where `ip netns add NAME` mounts namespaces.
    static let netnsDirectory = "/var/run/netns"
    static let root = "amb-"

    private static let nextIndex = NIOLockedValueBox(1)

    /// A prefix no namespace on the machine uses yet. Skips indices a dead run with our
    /// (reused) pid left behind, which the sweep cannot delete because the pid is alive.
    static func freshPrefix() -> String {
        let existing = namespaces()
        while true {
            let index = nextIndex.withLockedValue { next -> Int in
                defer { next += 1 }
                return next
            }
            let prefix = "\(root)\(getpid())-\(index)-"
            if !existing.contains(where: { $0.hasPrefix(prefix) }) { return prefix }
        }
    }

    /// Names under /var/run/netns (empty if the directory does not exist yet).
    static func namespaces() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: netnsDirectory)) ?? []).sorted()
    }

    /// The pid in `amb-<pid>-...`, or nil for names that are not ours.
    static func ownerPID(of name: String) -> pid_t? {
        guard name.hasPrefix(root) else { return nil }
        let digits = name.dropFirst(root.count).prefix { $0.isNumber }
        guard !digits.isEmpty, name.dropFirst(root.count + digits.count).first == "-" else { return nil }
        return pid_t(digits)
    }

    /// Names from `names` whose owning process is gone.
    static func leftovers(in names: [String], isAlive: (pid_t) -> Bool = processIsAlive) -> [String] {
        names.filter { name in
            guard let pid = ownerPID(of: name) else { return false }
            return !isAlive(pid)
        }
    }

    /// `kill(pid, 0)`: ESRCH means no such process; EPERM means it exists but is not ours.
    static func processIsAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// A name fit for a namespace or an interface suffix: Kubernetes-style lower case,
    /// digits, `-` and `.`, which also keeps shell quoting and file names out of the way.
    static func validate(_ name: String, what: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
        guard !name.isEmpty, name.count <= 63, name.allSatisfy({ allowed.contains($0) }) else {
            throw TestFailure("\(what) name \"\(name)\" must be 1-63 characters of a-z, 0-9, '-' and '.'")
        }
    }
}
