import Foundation
import AmbitRedirect
import Testing

/// The nftables table put into each enrolled pod, checked as the text `nft` is given.
@Suite("In-pod nftables rules")
struct InPodRulesTests {
    /// The table with every default: capture TCP both ways and DNS, spare the daemon's own
    /// packets (mark 0x539), loopback, HBONE and the kubelet probe address.
    static let defaultTable = [
        "table inet ambit {",
        "\tchain prerouting {",
        "\t\ttype nat hook prerouting priority -100; policy accept;",
        "\t\tiifname \"lo\" return",
        "\t\tmeta mark 0x539 return",
        "\t\tip saddr 169.254.7.127 return",
        "\t\ttcp dport 15008 return",
        "\t\tmeta l4proto tcp redirect to :15006",
        "\t}",
        "\tchain output {",
        "\t\ttype nat hook output priority -100; policy accept;",
        "\t\tmeta mark 0x539 return",
        "\t\toifname \"lo\" return",
        "\t\tip daddr 127.0.0.0/8 return",
        "\t\tip6 daddr ::1 return",
        "\t\tudp dport 53 redirect to :15053",
        "\t\ttcp dport 53 redirect to :15053",
        "\t\tmeta l4proto tcp redirect to :15001",
        "\t}",
        "}",
    ].map { $0 + "\n" }.joined()

    @Test("the default table, exactly")
    func defaultTableText() {
        #expect(InPodRules().table == Self.defaultTable)
    }

    @Test("the install script replaces any old table in one transaction: add, delete, then the table")
    func installScript() {
        let script = InPodRules().installScript
        #expect(script.hasPrefix("add table inet ambit\ndelete table inet ambit\ntable inet ambit {\n"))
        #expect(script == "add table inet ambit\ndelete table inet ambit\n" + Self.defaultTable)
    }

    @Test("the remove script deletes the table whether or not it exists")
    func removeScript() {
        #expect(InPodRules.removeScript == "add table inet ambit\ndelete table inet ambit\n")
    }

    @Test("the reserved ports are the daemon's four listeners")
    func reservedPorts() {
        #expect(InPodRules().reservedPorts == [15001, 15006, 15008, 15053])
        var rules = InPodRules()
        rules.outboundPort = 25001
        rules.dnsPort = 25053
        #expect(rules.reservedPorts == [25001, 15006, 15008, 25053])
    }

    @Test("without DNS capture the two port-53 rules are gone and nothing else changes")
    func noDNSCapture() {
        var rules = InPodRules()
        rules.captureDNS = false
        let expected = Self.defaultTable
            .replacingOccurrences(of: "\t\tudp dport 53 redirect to :15053\n", with: "")
            .replacingOccurrences(of: "\t\ttcp dport 53 redirect to :15053\n", with: "")
        #expect(rules.table == expected)
        #expect(!rules.table.contains("dport 53"))
    }

    @Test("an IPv6 probe source is matched with ip6 saddr, an IPv4 one with ip saddr, in the order given")
    func probeSources() {
        var rules = InPodRules()
        rules.probeSources = ["fd00::7f", "10.0.0.1"]
        #expect(rules.table.contains("\t\tmeta mark 0x539 return\n\t\tip6 saddr fd00::7f return\n\t\tip saddr 10.0.0.1 return\n\t\ttcp dport 15008 return\n"))
        rules.probeSources = []
        #expect(!rules.table.contains("saddr"))
    }

    @Test("the mark and the ports come from the configuration")
    func configurable() {
        var rules = InPodRules()
        rules.mark = 0xabc
        rules.inboundTunnelPort = 16008
        rules.inboundPlaintextPort = 16006
        rules.outboundPort = 16001
        rules.dnsPort = 16053
        let table = rules.table
        #expect(table.components(separatedBy: "meta mark 0xabc return").count == 3, "in both chains")
        #expect(table.contains("tcp dport 16008 return"))
        #expect(table.contains("meta l4proto tcp redirect to :16006"))
        #expect(table.contains("meta l4proto tcp redirect to :16001"))
        #expect(table.contains("udp dport 53 redirect to :16053") && table.contains("tcp dport 53 redirect to :16053"))
        #expect(!table.contains("1500"))
    }
}
