#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address of a mesh service, kept as its 4 or 16 network-order bytes,
/// which is exactly what A and AAAA records carry.
public struct MeshAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    /// From 4 (IPv4) or 16 (IPv6) bytes.
    public init(bytes: [UInt8]) throws(DNSError) {
        guard bytes.count == 4 || bytes.count == 16 else {
            throw DNSError(.invalidAddress, "an address is 4 bytes (IPv4) or 16 bytes (IPv6), not \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// From text: `10.96.0.12` or `fd00::12` (no brackets, no port, no zone).
    public init(parsing text: String) throws(DNSError) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        throw DNSError(.invalidAddress, "'\(text)' is not an IPv4 or IPv6 address; write it like 10.96.0.12 or fd00::12")
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = isIPv4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "\(bytes)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
