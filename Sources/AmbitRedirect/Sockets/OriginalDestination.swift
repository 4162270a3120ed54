import Glibc
import NIOCore

/// Where a redirected connection was going before nftables sent it to us.
///
/// `REDIRECT` rewrites the destination to the daemon's port; conntrack remembers the
/// original, and `SO_ORIGINAL_DST` reads it back. It is asked of the accepted socket, so it
/// needs no privileges beyond owning that socket.
public enum OriginalDestination {
    /// `SO_ORIGINAL_DST` (linux/netfilter_ipv4.h); the IPv6 twin has the same number.
    static let soOriginalDst: Int32 = 80

    public static func of(_ channel: Channel) -> EventLoopFuture<SocketAddress> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(
                RedirectError(.noOriginalDestination, "the channel is not a socket; it has no original destination"))
        }
        let isIPv6 = channel.localAddress?.protocol == .inet6
        if isIPv6 {
            return provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(soOriginalDst)
            ).map { (address: sockaddr_in6) in
                SocketAddress(address, host: "")
            }
        }
        return provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_IP), name: SocketOptionName(soOriginalDst))
            .map { (address: sockaddr_in) in SocketAddress(address, host: "") }
            .flatMapErrorThrowing { error in
                throw RedirectError(
                    .noOriginalDestination,
                    "the connection has no original destination (\(error)); was it redirected by the pod's nftables rules?")
            }
    }
}
