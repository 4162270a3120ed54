import AmbitCore
import NIOCore

extension SocketAddress {
    /// `10.0.0.5:15008` / `[fd00::5]:15008`, as people write addresses, rather than NIO's
    /// `[IPv4]10.0.0.5/10.0.0.5:15008`: this is what error messages and headers show.
    var hostPortText: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return HostPort(host: ip, port: port).description
    }
}
