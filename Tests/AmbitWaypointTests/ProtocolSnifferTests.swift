import AmbitWaypoint
import NIOCore
import Testing

@Suite struct ProtocolSnifferTests {
    func sniff(_ text: String) -> ProtocolSniffer.Verdict { ProtocolSniffer.sniff(ByteBuffer(string: text)) }

    @Test func http1RequestLines() {
        #expect(sniff("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == .http1)
        #expect(sniff("POST /x?y=1 HTTP/1.0\r\n") == .http1)
        #expect(sniff("GET / HTTP/1.1\n") == .http1)
    }

    @Test func partialInputWaitsForMore() {
        #expect(sniff("") == .needMoreData)
        #expect(sniff("GE") == .needMoreData)
        #expect(sniff("GET /long/path") == .needMoreData)
        #expect(sniff("PRI * HTTP/2.0\r\n") == .needMoreData)
    }

    @Test func http2Preface() {
        #expect(sniff("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == .http2)
        #expect(sniff("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\u{0}\u{0}") == .http2)
    }

    @Test func otherProtocolsAreTCP() {
        #expect(sniff("\u{16}\u{03}\u{01}") == .tcp)  // a TLS ClientHello
        #expect(sniff("SSH-2.0-OpenSSH_9.6\r\n") == .tcp)
        #expect(sniff("GET / SMTP\r\n") == .tcp)
        #expect(sniff("GETX / HTTP/1.1\r\n") == .tcp)
        #expect(sniff("GET / HTTP/2.0\r\n") == .tcp)
    }

    @Test func endlessRequestLineIsNotHTTP() {
        #expect(sniff("GET /" + String(repeating: "a", count: 9000)) == .tcp)
    }
}
