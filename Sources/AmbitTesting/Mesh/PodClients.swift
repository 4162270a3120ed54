import AmbitRedirect
import Foundation
import NIOCore

/// Client-side tricks a mesh test needs beyond `connect`: a UDP exchange (DNS) and a TCP
/// connection from a chosen source address (spoofing). Sockets are made in the pod's
/// namespace without the daemon's mark, so the pod's rules apply to them as to any app.
extension Topology.Pod {
    /// Sends `payload` over UDP to `host:port` and returns the first datagram back.
    public func udpExchange(to host: String, port: Int, payload: [UInt8], timeoutSeconds: Int = 5) async throws -> [UInt8] {
        let namespace = try NetworkNamespace(path: netnsPath)
        let fd = try await context.executor.run(in: namespace) { try NamespaceSockets.udpSocket(port: 0, mark: 0) }
        let address = try SocketAddress(ipAddress: host, port: port)
        return try await BlockingSocket.run {
            defer { close(fd) }
            // The socket is non-blocking; wait with poll.
            let sent = payload.withUnsafeBytes { bytes in
                address.withSockAddr { sa, length in sendto(fd, bytes.baseAddress, bytes.count, 0, sa, socklen_t(length)) }
            }
            guard sent == payload.count else { throw TestFailure("sendto \(host):\(port) failed: \(String(cString: strerror(errno)))") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(timeoutSeconds * 1000)) == 1 else {
                throw TestFailure("no UDP answer from \(host):\(port) within \(timeoutSeconds) s")
            }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var from = sockaddr_storage()
            var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, 0, $0, &fromLength) }
                }
            }
            guard n > 0 else { throw TestFailure("recv failed: \(String(cString: strerror(errno)))") }
            // A stub resolver (glibc, musl) drops an answer from any other address than the
            // one it asked: so must the test, or a mis-addressed answer passes here and every
            // lookup times out in a real pod.
            let sender = withUnsafePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin -> String in
                    var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    var addr = sin.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
                    return "\(String(cString: text)):\(UInt16(bigEndian: sin.pointee.sin_port))"
                }
            }
            guard sender == "\(host):\(port)" else {
                throw TestFailure("the UDP answer came from \(sender), not from \(host):\(port), so a pod's resolver would drop it")
            }
            return Array(buffer[0..<n])
        }
    }

    /// Connects to `host:port` with the source address `source` (which the pod must hold,
    /// e.g. after `ip addr add`): what a pod forging another pod's address does.
    public func connect(to host: String, port: Int, from source: String) async throws -> BlockingSocket {
        let namespace = try NetworkNamespace(path: netnsPath)
        let address = try SocketAddress(ipAddress: host, port: port)
        let local = try SocketAddress(ipAddress: source, port: 0)
        let fd = try await context.executor.run(in: namespace) { () throws -> Int32 in
            let fd = try NamespaceSockets.tcpSocket(for: address, mark: 0)
            var on: Int32 = 1
            setsockopt(fd, SOL_IP, IP_FREEBIND, &on, socklen_t(MemoryLayout<Int32>.size))
            let rc = local.withSockAddr { sa, length in bind(fd, sa, socklen_t(length)) }
            guard rc == 0 else {
                close(fd)
                throw TestFailure("cannot bind to \(source): \(String(cString: strerror(errno)))")
            }
            return fd
        }
        let connected = try await NonBlockingConnect.connect(fd, to: address, timeout: .seconds(5), on: context.group.next()).get()
        return try BlockingSocket(adopting: connected)
    }
}

/// A DNS query for `name` (type A), and the A records of an answer: enough for a test to
/// ask the node's resolver without a DNS library.
public enum TestDNS {
    public static func query(_ name: String, id: UInt16 = 0x1234) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        bytes += [0, 0, 1, 0, 1]
        return bytes
    }

    /// Response code and the IPv4 addresses in the answer section.
    public static func answers(_ message: [UInt8]) throws -> (rcode: Int, addresses: [String]) {
        guard message.count >= 12 else { throw TestFailure("DNS answer too short") }
        let rcode = Int(message[3] & 0x0f)
        let qd = Int(message[4]) << 8 | Int(message[5])
        let an = Int(message[6]) << 8 | Int(message[7])
        var i = 12
        func skipName() {
            while i < message.count {
                let len = Int(message[i])
                if len & 0xc0 == 0xc0 { i += 2; return }
                i += 1
                if len == 0 { return }
                i += len
            }
        }
        for _ in 0..<qd { skipName(); i += 4 }
        var addresses: [String] = []
        for _ in 0..<an {
            skipName()
            guard i + 10 <= message.count else { break }
            let type = Int(message[i]) << 8 | Int(message[i + 1])
            let length = Int(message[i + 8]) << 8 | Int(message[i + 9])
            i += 10
            if type == 1 && length == 4 && i + 4 <= message.count {
                addresses.append(message[i..<i + 4].map(String.init).joined(separator: "."))
            }
            i += length
        }
        return (rcode, addresses)
    }
}
