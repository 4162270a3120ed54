/// A domain name as a list of labels, each kept as the raw bytes from the wire.
///
/// Equality is exact (byte for byte, case-sensitive) because a response must echo the
/// question as asked; use `normalized` to compare names the way DNS does (ASCII
/// case-insensitive, RFC 4343). The root name has no labels.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name on the wire, counting length bytes and the final root byte.
    public static let maxWireLength = 255
    /// The longest label; the top two bits of a length byte are the label type.
    public static let maxLabelLength = 63

    public private(set) var labels: [[UInt8]]

    /// The root name, ".".
    public static let root = DNSName(validatedLabels: [])

    init(validatedLabels labels: [[UInt8]]) {
        self.labels = labels
    }

    /// Parses dotted text such as `reviews.bookinfo.svc.cluster.local` (a trailing dot is
    /// allowed; `.` and the empty string are the root). Escapes are not supported: this is
    /// for host names from configuration, not for zone files.
    public init(_ text: String) throws(DNSError) {
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        guard !body.isEmpty else {
            self.init(validatedLabels: [])
            return
        }
        var labels: [[UInt8]] = []
        for part in body.split(separator: ".", omittingEmptySubsequences: false) {
            let bytes = Array(part.utf8)
            guard !bytes.isEmpty else {
                throw DNSError(.invalidName, "invalid DNS name '\(text)': it has an empty label (two dots in a row, or a leading dot)")
            }
            guard bytes.count <= Self.maxLabelLength else {
                throw DNSError(.invalidName, "invalid DNS name '\(text)': the label '\(part)' is \(bytes.count) bytes; labels are at most 63")
            }
            labels.append(bytes)
        }
        let name = DNSName(validatedLabels: labels)
        guard name.wireLength <= Self.maxWireLength else {
            throw DNSError(.invalidName, "invalid DNS name '\(text)': it is \(name.wireLength) bytes on the wire; names are at most 255")
        }
        self = name
    }

    /// Bytes this name takes uncompressed: a length byte per label, the labels, the root byte.
    public var wireLength: Int { labels.reduce(1) { $0 + 1 + $1.count } }

    /// Lower-case dotted text without the trailing dot, for lookups; nil when a label holds
    /// a dot or a byte outside printable ASCII, since such a name cannot match a host name
    /// and would be ambiguous as text.
    public var normalized: String? {
        var out: [UInt8] = []
        out.reserveCapacity(wireLength)
        for (index, label) in labels.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ".")) }
            for byte in label {
                guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: ".") else { return nil }
                out.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Dotted text with a trailing dot; bytes that are not printable ASCII, and dots inside
    /// a label, are written `\DDD` as in zone files.
    public var description: String {
        guard !labels.isEmpty else { return "." }
        var out = ""
        for label in labels {
            for byte in label {
                if byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "."), byte != UInt8(ascii: "\\") {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    let digits = String(byte)
                    out += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            out += "."
        }
        return out
    }

    /// Appends the uncompressed wire form.
    func write(to out: inout [UInt8]) {
        for label in labels {
            out.append(UInt8(label.count))
            out.append(contentsOf: label)
        }
        out.append(0)
    }
}
