@testable import AmbitNode
import Glibc
import NIOCore
import NIOPosix
import Testing

@Suite struct NodePreflightTests {
    @Test func capabilitiesNameWhatIsMissingAndWhy() {
        let all: UInt64 = (1 << 12) | (1 << 13) | (1 << 21)
        #expect(NodePreflight.capabilities(effective: all).status == .ok)
        let noSysAdmin = NodePreflight.capabilities(effective: (1 << 12) | (1 << 13))
        #expect(noSysAdmin.status == .failed)
        #expect(noSysAdmin.detail == "missing CAP_SYS_ADMIN (setns into pod network namespaces)")
        #expect(noSysAdmin.fix.contains("ambit install systemd"))
        let none = NodePreflight.capabilities(effective: 0)
        #expect(none.detail.hasPrefix("missing CAP_NET_ADMIN (nftables rules in pods and SO_MARK on the daemon's sockets); CAP_SYS_ADMIN"))
    }

    @Test func aPortInUseFailsWithHowToFindTheHolder() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let holder = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = holder.localAddress!.port!
        let taken = NodePreflight.port(port, host: "127.0.0.1", purpose: "admin", flag: "--admin")
        #expect(taken.status == .failed)
        #expect(taken.detail == "127.0.0.1:\(port) (admin) is not available: Address already in use")
        #expect(taken.fix.contains("ss -ltnp 'sport = :\(port)'"))
        try await holder.close()
        #expect(NodePreflight.port(port, host: "127.0.0.1", purpose: "admin", flag: "--admin").status == .ok)
        try await group.shutdownGracefully()
    }

    @Test("a port whose closed connections linger in TIME_WAIT is free, as it is for the daemon")
    func aPortInTimeWaitIsFree() throws {
        // A server that closes first leaves its side of the connection in TIME_WAIT on its
        // port, as the admin endpoint does after each answer.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(listener, $0, length)
                _ = listen(listener, 1)
                _ = getsockname(listener, $0, &length)
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let accepted = accept(listener, nil, nil)
        close(accepted)  // the server side closes first: TIME_WAIT on `port`
        var byte: UInt8 = 0
        _ = recv(client, &byte, 1, 0)  // sees the FIN
        close(client)
        close(listener)
        let result = NodePreflight.port(port, host: "127.0.0.1", purpose: "admin", flag: "--admin")
        #expect(result.status == .ok, "\(result.detail)")
    }

    @Test func missingNetnsDirectoryIsAWarningNotAFailure() {
        let result = NodePreflight.netnsDirectory("/nonexistent/netns-\(getpid())")
        #expect(result.status == .warning)
    }

    /// The scratch-namespace nftables check needs root (CI is root); skipped only when
    /// AMBIT_SKIP_ROOT_TESTS=1 asks for it, like the topology tests.
    @Test(.disabled(if: getenv("AMBIT_SKIP_ROOT_TESTS").map { String(cString: $0) } == "1", "AMBIT_SKIP_ROOT_TESTS=1"))
    func podRulesLoadInAScratchNamespace() {
        guard getuid() == 0 else {
            Issue.record("needs root (CAP_SYS_ADMIN to create a network namespace, CAP_NET_ADMIN for nftables); run as root or set AMBIT_SKIP_ROOT_TESTS=1")
            return
        }
        let result = NodePreflight.nftables()
        #expect(result.status == .ok, "\(result.detail)")
    }
}
