#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation
import NIOConcurrencyHelpers

/// A blocking TCP client for tests, the way an application would use a socket: connect,
/// send everything, shut the write side, read until EOF. Run it on its own thread
/// (`BlockingSocket.run`), never on the cooperative pool the code under test needs.
public final class BlockingSocket: Sendable {
    private let fd: Int32
    /// Bytes the kernel has accepted from `send` so far; readable from another thread.
    public let bytesSent = NIOLockedValueBox(0)

    public init(connectTo port: Int, host: String = "127.0.0.1", receiveTimeoutSeconds: Int = 15) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TestFailure("connect to \(host):\(port) failed: \(reason)")
        }
    }

    /// Adopts a socket that is already connected, such as one created inside a pod's
    /// network namespace and connected there (`Topology.Pod.connect`). The socket is made
    /// blocking, because that is how this type is used; it is closed with this object.
    public init(adopting connected: Int32, receiveTimeoutSeconds: Int = 15) throws {
        let flags = fcntl(connected, F_GETFL)
        guard flags >= 0, fcntl(connected, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
            let reason = String(cString: strerror(errno))
            close(connected)
            throw TestFailure("cannot make socket \(connected) blocking: \(reason)")
        }
        fd = connected
        var tv = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    public func send(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send failed after \(bytesSent.withLockedValue { $0 }) bytes: \(String(cString: strerror(errno)))")
            }
            offset += n
            bytesSent.withLockedValue { $0 += n }
        }
    }

    public func send(_ text: String) throws {
        var copy = text
        try copy.withUTF8 { try send(UnsafeRawBufferPointer($0)) }
    }

    public func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads until EOF (or the receive timeout).
    public func readToEnd(limit: Int = 1 << 30) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("recv failed after \(out.count) bytes: \(String(cString: strerror(errno)))")
            }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Reads exactly `count` bytes, or fails.
    public func read(exactly count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            if n <= 0 {
                throw TestFailure("expected \(count) bytes, got \(out.count) before \(n == 0 ? "EOF" : String(cString: strerror(errno)))")
            }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Runs `body` on a new thread and awaits its result, keeping blocking calls off the
    /// Swift concurrency pool.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}

/// SHA-256 of a byte stream, as the sink server reports it.
public func sha256Hex(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}
