import AmbitRedirect
import Foundation
import Glibc

/// `ambit check`: can this machine run the node daemon? Each check says what it found and,
/// when it fails, the command or setting that fixes it — run before installing, and when a
/// pod will not enrol.
public enum NodePreflight {
    public struct Result: Sendable, Equatable {
        public enum Status: String, Sendable { case ok = "ok", warning = "warn", failed = "FAIL" }
        public var check: String
        public var status: Status
        public var detail: String
        /// What to do about it; empty when nothing needs doing.
        public var fix: String

        public init(_ check: String, _ status: Status, _ detail: String, fix: String = "") {
            self.check = check
            self.status = status
            self.detail = detail
            self.fix = fix
        }
    }

    public struct Options: Sendable {
        public var metricsPort = 15020
        public var readinessPort = 15021
        public var adminPort = 15000
        public var stateDirectory = "/var/lib/ambit/node"
        public var netnsDirectory = "/var/run/netns"
        public init() {}
    }

    public static func run(_ options: Options = Options()) -> [Result] {
        var results = [capabilities(effective: effectiveCapabilities())]
        results.append(nftables())
        results += ports(options)
        results.append(netnsDirectory(options.netnsDirectory))
        results.append(stateDirectory(options.stateDirectory))
        return results
    }

    // MARK: capabilities

    static let needed: [(bit: Int, name: String, why: String)] = [
        (12, "CAP_NET_ADMIN", "nftables rules in pods and SO_MARK on the daemon's sockets"),
        (21, "CAP_SYS_ADMIN", "setns into pod network namespaces"),
        (13, "CAP_NET_RAW", "raw netlink and transparent sockets"),
    ]

    /// The effective capability set of this process (`CapEff` in /proc/self/status).
    static func effectiveCapabilities() -> UInt64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
            let value = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return 0 }
        return value
    }

    static func capabilities(effective: UInt64) -> Result {
        let missing = needed.filter { effective & (1 << UInt64($0.bit)) == 0 }
        if missing.isEmpty { return Result("capabilities", .ok, needed.map(\.name).joined(separator: ", ")) }
        return Result(
            "capabilities", .failed,
            "missing " + missing.map { "\($0.name) (\($0.why))" }.joined(separator: "; "),
            fix: "run as root, or through the systemd unit (`ambit install systemd`), which grants exactly CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_NET_RAW")
    }

    // MARK: nftables

    /// Loads the exact table the daemon installs in pods, in a scratch namespace.
    static func nftables() -> Result {
        do {
            let rules = InPodRules()
            let listed = try ScratchNamespace.run { () -> String in
                try NFTables.run(rules.installScript, context: "the pod rules")
                return NFTables.listAmbitTable() ?? ""
            }
            guard listed.contains("redirect to :\(rules.outboundPort)") else {
                return Result("nftables", .failed, "the pod rules loaded but do not list back as expected", fix: "check the nftables version: `nft --version` (1.0 or later)")
            }
            return Result("nftables", .ok, "the pod rules load (nf_tables, nat redirect, conntrack marks)")
        } catch {
            return Result(
                "nftables", .failed, "\(error)",
                fix: "load the kernel modules: `modprobe -a nf_tables nft_nat nft_redirect nft_ct nf_conntrack`, and check the capabilities above")
        }
    }

    // MARK: ports

    static func ports(_ options: Options) -> [Result] {
        [
            port(options.metricsPort, host: "0.0.0.0", purpose: "metrics (/metrics)", flag: "--metrics"),
            port(options.readinessPort, host: "0.0.0.0", purpose: "readiness (/healthz/ready)", flag: "--readiness"),
            port(options.adminPort, host: "127.0.0.1", purpose: "admin", flag: "--admin"),
        ]
    }

    static func port(_ port: Int, host: String, purpose: String, flag: String) -> Result {
        let name = "port \(port)"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return Result(name, .failed, "cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Probe as the daemon binds (SO_REUSEADDR, then listen): a port whose last
        // connections linger in TIME_WAIT, as after every daemon restart, is free for it;
        // a port another process listens on is not.
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc == 0 && listen(fd, 1) == 0 { return Result(name, .ok, "\(host):\(port) is free for \(purpose)") }
        let reason = String(cString: strerror(errno))
        return Result(
            name, .failed, "\(host):\(port) (\(purpose)) is not available: \(reason)",
            fix: "see who holds it with `ss -ltnp 'sport = :\(port)'`; stop it (an old ambit node?) or give the daemon another port with \(flag) HOST:PORT")
    }

    // MARK: directories

    static func netnsDirectory(_ path: String) -> Result {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return access(path, R_OK | X_OK) == 0
                ? Result("netns directory", .ok, "\(path) is readable")
                : Result("netns directory", .failed, "\(path) is not readable", fix: "run as root")
        }
        return Result(
            "netns directory", .warning, "\(path) does not exist",
            fix: "pods named by /proc/PID/ns/net still work; `ip netns add` creates it for named namespaces")
    }

    static func stateDirectory(_ path: String) -> Result {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard access(path, W_OK) == 0 else {
                return Result("state directory", .failed, "\(path) is not writable", fix: "run as root, or pass a writable --state-dir")
            }
            return Result("state directory", .ok, "\(path) is writable")
        } catch {
            return Result("state directory", .failed, "cannot create \(path): \(error.localizedDescription)", fix: "pass a writable --state-dir")
        }
    }
}
