import NIOCore

/// Decides what a tunnelled byte stream speaks when the Service port does not say
/// (`appProtocol`), by looking at its first bytes, the way Envoy's HTTP inspector does.
///
/// Only a client-first protocol can be detected: a stream whose client waits for the
/// server to talk first (SMTP, MySQL) never sends enough bytes, so the caller gives up
/// after a short wait and carries it as TCP.
public enum ProtocolSniffer {
    public enum Verdict: Equatable, Sendable {
        /// More bytes are needed to tell.
        case needMoreData
        /// The HTTP/2 connection preface (prior knowledge, as gRPC clients send it).
        case http2
        /// An HTTP/1.x request line.
        case http1
        /// Anything else: carried as opaque TCP.
        case tcp
    }

    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// The methods an HTTP/1 request line may start with (RFC 9110 plus WebDAV's common ones).
    static let methods: [[UInt8]] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    ].map { Array(($0 + " ").utf8) }
    /// A request line longer than this without `HTTP/1.` is not HTTP.
    static let maximumRequestLine = 8192

    public static func sniff(_ buffer: ByteBuffer) -> Verdict {
        let bytes = buffer.readableBytesView
        if bytes.isEmpty { return .needMoreData }

        // The HTTP/2 preface starts with "PRI ", which no HTTP/1 method does.
        let prefaceLength = min(bytes.count, http2Preface.count)
        if bytes.prefix(prefaceLength).elementsEqual(http2Preface.prefix(prefaceLength)) {
            return prefaceLength == http2Preface.count ? .http2 : .needMoreData
        }

        var methodMayMatch = false
        for method in methods {
            let n = min(bytes.count, method.count)
            if bytes.prefix(n).elementsEqual(method.prefix(n)) {
                if n < method.count { methodMayMatch = true; continue }
                return requestLineVerdict(bytes)
            }
        }
        return methodMayMatch ? .needMoreData : .tcp
    }

    /// After the method: the line must end in ` HTTP/1.0` or ` HTTP/1.1`.
    private static func requestLineVerdict(_ bytes: ByteBufferView) -> Verdict {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\n")) else {
            return bytes.count > maximumRequestLine ? .tcp : .needMoreData
        }
        var line = Array(bytes[bytes.startIndex..<end])
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        let version = Array(" HTTP/1.".utf8)
        guard line.count > version.count + 1 else { return .tcp }
        let tail = line.suffix(version.count + 1)
        return tail.prefix(version.count).elementsEqual(version) && (tail.last == UInt8(ascii: "0") || tail.last == UInt8(ascii: "1"))
            ? .http1 : .tcp
    }
}
