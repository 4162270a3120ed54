import Foundation

/// tcpdump running on one interface inside a namespace, writing pcap.
public final class Capture: Sendable {
    public let interface: String
    public let netnsName: String
    private let process: TestProcess

    private init(interface: String, netnsName: String, process: TestProcess) {
        self.interface = interface
        self.netnsName = netnsName
        self.process = process
    }

    /// Starts tcpdump and returns once it is capturing (it says "listening on" then), so
    /// traffic sent right after this returns is in the capture.
    static func start(interface: String, filter: [String], in netns: String, context: TopologyContext) async throws -> Capture {
        // pcap goes to stdout, which is a file this process opened: tcpdump drops root
        // privileges (Debian runs it as user tcpdump) and could not open a path of ours.
        // -U with --immediate-mode: every packet reaches the file as it is seen.
        let command = ["tcpdump", "-i", interface, "-n", "-s", "0", "-U", "--immediate-mode", "-w", "-"] + filter
        let process = try context.spawn(command, in: netns)
        do {
            try await waitUntil("tcpdump listens on \(interface) in \(netns)", timeoutSeconds: 10) {
                process.stderr.contains("listening on") || !process.isRunning
            }
        } catch {
            await process.terminate(grace: 1)
            throw TestFailure("tcpdump did not start on \(interface) in \(netns): \(process.stderr)")
        }
        guard process.isRunning else {
            throw TestFailure("tcpdump exited at start on \(interface) in \(netns) (\(process.exitStatus!)): \(process.stderr)")
        }
        return Capture(interface: interface, netnsName: netns, process: process)
    }

    /// Stops tcpdump and returns what it captured. Waits for the file to stop growing
    /// first, so packets still queued in the capture buffer are not lost.
    public func stop() async throws -> CapturedTraffic {
        var size = -1
        for _ in 0..<50 {
            try await Task.sleep(nanoseconds: 50_000_000)
            let now = (try? FileManager.default.attributesOfItem(atPath: process.stdoutPath)[.size] as? Int) ?? 0
            if now == size { break }
            size = now
        }
        await process.terminate(grace: 5)
        guard let data = FileManager.default.contents(atPath: process.stdoutPath) else {
            throw TestFailure("the capture on \(interface) in \(netnsName) wrote nothing: \(process.stderr)")
        }
        return try CapturedTraffic(pcap: [UInt8](data))
    }
}

/// Packets from a capture, for assertions such as "the payload never crossed the fabric in
/// plaintext, and TLS application data did".
public struct CapturedTraffic: Sendable {
    /// The capture as tcpdump wrote it (pcap).
    public let pcap: [UInt8]
    /// Each packet's bytes as captured (link-layer frame).
    public let packets: [[UInt8]]

    /// Parses classic pcap in either byte order.
    public init(pcap: [UInt8]) throws {
        self.pcap = pcap
        guard pcap.count >= 24 else {
            throw TestFailure("the capture is \(pcap.count) bytes, shorter than a pcap header")
        }
        let magic = pcap[0..<4]
        let littleEndian: Bool
        switch Array(magic) {
        case [0xd4, 0xc3, 0xb2, 0xa1], [0x4d, 0x3c, 0xb2, 0xa1]: littleEndian = true
        case [0xa1, 0xb2, 0xc3, 0xd4], [0xa1, 0xb2, 0x3c, 0x4d]: littleEndian = false
        default: throw TestFailure("the capture does not start with a pcap magic number: \(Array(magic))")
        }
        func u32(_ at: Int) -> Int {
            let b = pcap[at..<at + 4].map(Int.init)
            return littleEndian ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        var packets: [[UInt8]] = []
        var offset = 24
        // A record cut short (tcpdump killed mid-write) ends the list rather than failing.
        while offset + 16 <= pcap.count {
            let length = u32(offset + 8)
            let start = offset + 16
            guard start + length <= pcap.count else { break }
            packets.append(Array(pcap[start..<start + length]))
            offset = start + length
        }
        self.packets = packets
    }

    /// True if some packet contains `text` (UTF-8). A payload split across two segments
    /// is not found: keep markers short (well under one MSS).
    public func contains(_ text: String) -> Bool { contains(bytes: Array(text.utf8)) }

    public func contains(bytes needle: [UInt8]) -> Bool {
        packets.contains { $0.contains(subsequence: needle) }
    }

    /// True if some packet carries the header of a TLS 1.2/1.3 application-data record
    /// (0x17 0x03 0x03), which is what mTLS between nodes looks like on the wire.
    public var containsTLSApplicationData: Bool { contains(bytes: [0x17, 0x03, 0x03]) }
}

extension Array where Element == UInt8 {
    /// True if `needle` occurs contiguously in this array.
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }
}
