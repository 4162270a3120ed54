import Glibc
import NIOCore

/// The sockets the node daemon makes inside a pod's network namespace.
///
/// Every one of them carries `SO_MARK` = `mark` (0x539 by default): the pod's nftables
/// rules return marked packets untouched, which is what keeps the daemon's own traffic
/// from being redirected back into itself. These functions do only the `socket`/`bind`
/// part, inside `NamespaceExecutor.run`; the descriptors are then handed to SwiftNIO.
public enum NamespaceSockets {
    /// The firewall mark on every socket the daemon owns in a pod (Istio uses the same).
    public static let defaultMark: UInt32 = 0x539

    /// A TCP listener on `0.0.0.0:port`, listening, non-blocking.
    public static func tcpListener(port: Int, mark: UInt32, backlog: Int32 = 1024) throws -> NIOBSDSocket.Handle {
        let fd = try socketWithMark(type: SOCK_STREAM, mark: mark)
        do {
            try setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, what: "SO_REUSEADDR")
            try bindIPv4Any(fd, port: port)
            guard listen(fd, backlog) == 0 else { throw sysError("listen on port \(port)") }
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// A UDP socket bound to `port` (0: any), non-blocking: on `0.0.0.0`, or with
    /// `loopback` on `127.0.0.1`.
    ///
    /// The pod's DNS listener must be the loopback one. The in-pod rule redirects the pod's
    /// queries (to any resolver address) to 127.0.0.1:15053, and conntrack turns an answer
    /// back into one from the resolver only if it leaves from exactly 127.0.0.1:15053. A
    /// wildcard socket answers from the pod's own address instead, which the pod's stub
    /// resolver drops as coming from a stranger: every lookup then times out.
    public static func udpSocket(port: Int, mark: UInt32, loopback: Bool = false) throws -> NIOBSDSocket.Handle {
        let fd = try socketWithMark(type: SOCK_DGRAM, mark: mark)
        do {
            if port != 0 { try setInt(fd, SOL_SOCKET, SO_REUSEADDR, 1, what: "SO_REUSEADDR") }
            try bindIPv4(fd, port: port, address: loopback ? INADDR_LOOPBACK : INADDR_ANY)
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// An unconnected TCP socket for `family`, non-blocking; `NonBlockingConnect` connects it.
    public static func tcpSocket(for address: SocketAddress, mark: UInt32) throws -> NIOBSDSocket.Handle {
        let fd = try socketWithMark(type: SOCK_STREAM, mark: mark, family: address.protocol.rawValue)
        do {
            try setInt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1, what: "TCP_NODELAY")
            return fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    // MARK: - Helpers

    private static func socketWithMark(type: __socket_type, mark: UInt32, family: Int32 = AF_INET) throws -> Int32 {
        let fd = socket(family, Int32(type.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw sysError("socket") }
        var value = mark
        guard setsockopt(fd, SOL_SOCKET, SO_MARK, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0 else {
            let error = sysError("SO_MARK \(String(mark, radix: 16)) (the daemon needs CAP_NET_ADMIN)")
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    private static func setInt(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, what: String) throws {
        var v = value
        guard setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0 else { throw sysError(what) }
    }

    private static func bindIPv4Any(_ fd: Int32, port: Int) throws { try bindIPv4(fd, port: port, address: INADDR_ANY) }

    private static func bindIPv4(_ fd: Int32, port: Int, address host: in_addr_t) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: host.bigEndian)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            throw sysError("bind to port \(port)\(errno == EADDRINUSE ? " (something in the pod already uses it)" : "")")
        }
    }

    static func sysError(_ what: String) -> RedirectError {
        RedirectError(.system, "\(what) failed: \(errnoText())")
    }
}
