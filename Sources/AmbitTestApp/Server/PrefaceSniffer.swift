// One port serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c): a connection that
// opens with the HTTP/2 client preface speaks HTTP/2, anything else HTTP/1.1. This is
// the pure decision; `ProtocolSwitchHandler` acts on it.

enum SniffedProtocol: Equatable {
    case http1
    case http2
    /// Every byte so far matches the preface, but there are fewer than 24 of them.
    case needMoreBytes
}

enum PrefaceSniffer {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func classify<Bytes: Collection>(_ bytes: Bytes) -> SniffedProtocol where Bytes.Element == UInt8 {
        var count = 0
        for (byte, expected) in zip(bytes, preface) {
            if byte != expected { return .http1 }
            count += 1
        }
        return count == preface.count ? .http2 : .needMoreBytes
    }
}
