/// The nftables table the node daemon installs inside an enrolled pod, as text.
///
/// Pure: rendering is separate from applying, so the rules are unit-tested as strings and
/// printed verbatim in docs/node.md. The shape follows Istio's in-pod nftables backend:
///
/// - `output`: TCP the app sends anywhere but loopback goes to the outbound listener
///   (15001); DNS (UDP and TCP 53) goes to the daemon's resolver (15053).
/// - `prerouting`: TCP arriving from outside goes to the plaintext inbound listener
///   (15006), except HBONE (15008), which the daemon serves directly.
/// - Packets of the daemon's own sockets carry `mark` and are never redirected; loopback
///   traffic inside the pod is left alone; probe sources (the node's health checks) pass.
///
/// Replies need no rule: `REDIRECT` is NAT, so conntrack routes them back to the socket
/// that owns the connection. (Istio's ct mark 0x111 serves its TPROXY variant, which we do
/// not use.)
public struct InPodRules: Sendable, Equatable {
    public static let tableName = "ambit"

    public var outboundPort = 15001
    public var inboundPlaintextPort = 15006
    public var inboundTunnelPort = 15008
    public var dnsPort = 15053
    public var mark: UInt32 = NamespaceSockets.defaultMark
    /// Capture DNS (UDP/TCP 53) to the daemon's resolver.
    public var captureDNS = true
    /// Sources whose inbound connections are not captured: the node's own probes.
    /// 169.254.7.127 is the link-local address Istio's CNI SNATs kubelet probes to.
    public var probeSources: [String] = ["169.254.7.127"]

    public init() {}

    /// The ports the daemon listens on in the pod; inbound traffic to them from outside is
    /// never relayed to the app (that would loop the daemon into itself).
    public var reservedPorts: Set<Int> { [outboundPort, inboundPlaintextPort, inboundTunnelPort, dnsPort] }

    var markText: String { "0x" + String(mark, radix: 16) }

    /// The table, as `nft list table inet ambit` prints it (modulo handles).
    public var table: String {
        var pre: [String] = [
            "type nat hook prerouting priority -100; policy accept;",
            "iifname \"lo\" return",
            "meta mark \(markText) return",
        ]
        for source in probeSources {
            pre.append("\(source.contains(":") ? "ip6" : "ip") saddr \(source) return")
        }
        pre += [
            "tcp dport \(inboundTunnelPort) return",
            "meta l4proto tcp redirect to :\(inboundPlaintextPort)",
        ]
        var out: [String] = [
            "type nat hook output priority -100; policy accept;",
            "meta mark \(markText) return",
            "oifname \"lo\" return",
            "ip daddr 127.0.0.0/8 return",
            "ip6 daddr ::1 return",
        ]
        if captureDNS {
            out += ["udp dport 53 redirect to :\(dnsPort)", "tcp dport 53 redirect to :\(dnsPort)"]
        }
        out.append("meta l4proto tcp redirect to :\(outboundPort)")
        func chain(_ name: String, _ rules: [String]) -> String {
            "\tchain \(name) {\n" + rules.map { "\t\t\($0)\n" }.joined() + "\t}\n"
        }
        return "table inet \(Self.tableName) {\n" + chain("prerouting", pre) + chain("output", out) + "}\n"
    }

    /// One transaction that replaces whatever `ambit` table is there with this one. The
    /// `add`/`delete` pair makes it idempotent: it works whether or not the table exists,
    /// and there is never a moment with no rules.
    public var installScript: String {
        "add table inet \(Self.tableName)\ndelete table inet \(Self.tableName)\n" + table
    }

    /// One transaction that removes the table if it is there.
    public static var removeScript: String {
        "add table inet \(tableName)\ndelete table inet \(tableName)\n"
    }
}
