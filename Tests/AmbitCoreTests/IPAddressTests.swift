import Testing

@testable import AmbitCore

/// Addresses are parsed strictly so that one address has one spelling: a policy's
/// `ipBlocks`, a workload's addresses and a service VIP must never half-match.
@Suite("IP addresses and CIDR blocks")
struct IPAddressTests {
    @Test("IPv4 in dotted decimal", arguments: [
        ("0.0.0.0", [0, 0, 0, 0] as [UInt8]), ("10.0.0.5", [10, 0, 0, 5]), ("255.255.255.255", [255, 255, 255, 255]),
    ])
    func ipv4(text: String, bytes: [UInt8]) {
        let ip = IPAddress(text)
        #expect(ip?.bytes == bytes)
        #expect(ip?.isIPv4 == true)
        #expect(ip?.description == text)
    }

    @Test("malformed or ambiguous IPv4 is refused", arguments: [
        "", "10.0.0", "10.0.0.0.1", "10.0.0.256", "10.0.0.01", "010.0.0.1", "10..0.1", "10.0.0.", ".10.0.0.1",
        "10.0.0.-1", "10.0.0.+1", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1/32", "1e1.0.0.1", "10.0.0.٣", "localhost",
    ])
    func badIPv4(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("IPv6 parses in full and compressed forms, any case", arguments: [
        ("::", "::"), ("::1", "::1"), ("fd00::5", "fd00::5"), ("FD00:0:0:0:0:0:0:5", "fd00::5"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("2001:0db8::0001", "2001:db8::1"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"), ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0"),
    ])
    func ipv6(text: String, canonical: String) {
        let ip = IPAddress(text)
        #expect(ip?.bytes.count == 16)
        #expect(ip?.isIPv4 == false)
        #expect(ip?.description == canonical)
        #expect(IPAddress(canonical) == ip, "the canonical form parses back to the same address")
    }

    @Test("RFC 5952: the longest run of zeros is compressed, the first of equal runs, never a single zero")
    func rfc5952() {
        #expect(IPAddress(bytes: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]).description == "2001:db8::1")
        #expect(IPAddress("1:0:0:2:3:0:0:4")?.description == "1::2:3:0:0:4")
        #expect(IPAddress("1:0:2:3:4:5:6:7")?.description == "1:0:2:3:4:5:6:7")
        #expect(IPAddress("abcd:ef01:2345:6789:abcd:ef01:2345:6789")?.description == "abcd:ef01:2345:6789:abcd:ef01:2345:6789")
    }

    @Test("malformed IPv6 is refused", arguments: [
        ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:",
        "12345::", "g::1", "1:2:3:4:5:6:7::8", "::ffff:10.0.0.1", "fe80::1%eth0", "[::1]", "+1::", "::-0",
    ])
    func badIPv6(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test("IPv4 sorts before IPv6; within a family addresses sort by value")
    func ordering() {
        let sorted = ["fd00::1", "10.0.0.10", "::1", "10.0.0.9", "9.255.255.255"].compactMap(IPAddress.init).sorted()
        #expect(sorted.map(\.description) == ["9.255.255.255", "10.0.0.9", "10.0.0.10", "::1", "fd00::1"])
    }

    // MARK: - CIDR

    @Test("a CIDR block contains the addresses under its prefix", arguments: [
        ("10.0.0.0/8", "10.255.255.255", true), ("10.0.0.0/8", "11.0.0.0", false),
        ("10.1.2.0/23", "10.1.3.200", true), ("10.1.2.0/23", "10.1.4.0", false),
        ("10.1.2.3/32", "10.1.2.3", true), ("10.1.2.3/32", "10.1.2.4", false),
        ("10.1.2.3", "10.1.2.3", true), ("0.0.0.0/0", "203.0.113.9", true),
        ("192.168.1.128/25", "192.168.1.127", false), ("192.168.1.128/25", "192.168.1.129", true),
        ("fd00::/64", "fd00::ffff:1", true), ("fd00::/64", "fd00:0:0:1::", false),
        ("fd00::/7", "fcff::1", true), ("fd00::/7", "fe00::1", false), ("::/0", "2001:db8::1", true),
        ("::1/128", "::1", true), ("::1", "::2", false),
    ])
    func contains(block: String, address: String, expected: Bool) throws {
        let cidr = try #require(CIDR(block))
        #expect(cidr.contains(try #require(IPAddress(address))) == expected)
    }

    @Test("a block never contains an address of the other family")
    func familiesDoNotMix() {
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("::1")!))
        #expect(!CIDR("::/0")!.contains(IPAddress("10.0.0.1")!))
    }

    @Test("a single address is a full-length prefix, and blocks print as address/prefix")
    func description() {
        #expect(CIDR("10.0.0.1")?.prefixLength == 32)
        #expect(CIDR("fd00::1")?.prefixLength == 128)
        #expect(CIDR("10.0.0.0/8")?.description == "10.0.0.0/8")
        #expect(CIDR("FD00:0::/64")?.description == "fd00::/64")
    }

    @Test("malformed CIDR blocks are refused", arguments: [
        "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/", "/8", "10.0.0.0/8/8", "10.0.0.0/a",
        "fd00::/129", "10.0.0.0/ 8", "10.0.0/8", "10.0.0.0/٨",
    ])
    func badCIDR(text: String) {
        #expect(CIDR(text) == nil)
    }
}
