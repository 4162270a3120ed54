import Glibc

/// A network namespace the daemon acts in: a pod's, named by `/var/run/netns/NAME` or
/// `/proc/PID/ns/net`.
///
/// It holds the namespace open for as long as the daemon needs it. That is deliberate: the
/// listeners live in that namespace, and holding it means a pod deleted behind our back
/// cannot have its path reused by a new pod while we still think it is the old one.
/// `identity` (device + inode) tells whether two paths name the same namespace, which is
/// how a restarted daemon recognises a pod it enrolled before.
public final class NetworkNamespace: Sendable, CustomStringConvertible {
    public struct Identity: Hashable, Sendable, CustomStringConvertible {
        public let device: UInt64
        public let inode: UInt64
        public var description: String { "net:[\(inode)]" }
    }

    public let path: String
    public let identity: Identity
    /// The open descriptor; `setns` takes it.
    let descriptor: Int32

    /// Opens the namespace at `path`.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errnoText()
            throw RedirectError(
                .namespaceUnavailable,
                "cannot open the network namespace \(path): \(reason); is the pod still running, and is its netns path right?")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = errnoText()
            Glibc.close(fd)
            throw RedirectError(.namespaceUnavailable, "cannot stat the network namespace \(path): \(reason)")
        }
        self.path = path
        self.descriptor = fd
        self.identity = Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The namespace of this process (the node's own).
    public static func current() throws -> NetworkNamespace {
        try NetworkNamespace(path: "/proc/self/ns/net")
    }

    /// The identity of the namespace at `path` without keeping it open; nil when gone.
    public static func identity(at path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    public var description: String { "\(path) (\(identity))" }

    deinit {
        Glibc.close(descriptor)
    }
}
