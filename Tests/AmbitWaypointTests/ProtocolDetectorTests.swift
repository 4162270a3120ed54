import NIOCore
import NIOEmbedded
import Testing

@testable import AmbitWaypoint

@Suite struct ProtocolDetectorTests {
    final class Collect: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var text = ""
        var ended = false
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { text += String(buffer: unwrapInboundIn(data)) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { ended = true }
        }
    }

    final class Rig {
        let channel = EmbeddedChannel()
        var detected: [ProtocolDetector.Detected] = []
        let collect = Collect()

        init(declaredHTTP: Bool = false) throws {
            let detector = ProtocolDetector(declaredHTTP: declaredHTTP, timeout: .milliseconds(500)) { [unowned self] detected, channel in
                self.detected.append(detected)
                try channel.pipeline.syncOperations.addHandler(self.collect)
            }
            try channel.pipeline.syncOperations.addHandler(detector)
        }
    }

    @Test func anHTTP1RequestLineIsHTTP1AndItsBytesAreReplayed() throws {
        let rig = try Rig()
        try rig.channel.writeInbound(ByteBuffer(string: "GET /x HT"))
        #expect(rig.detected.isEmpty, "not enough bytes to tell yet")
        try rig.channel.writeInbound(ByteBuffer(string: "TP/1.1\r\nHost: a\r\n"))
        #expect(rig.detected == [.http1])
        #expect(rig.collect.text == "GET /x HTTP/1.1\r\nHost: a\r\n", "nothing read during detection is lost")
        try rig.channel.writeInbound(ByteBuffer(string: "\r\n"))
        #expect(rig.collect.text.hasSuffix("\r\n\r\n"), "the detector has left the pipeline")
    }

    @Test func thePriorKnowledgePrefaceIsHTTP2() throws {
        let rig = try Rig()
        try rig.channel.writeInbound(ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
        #expect(rig.detected == [.http2])
    }

    @Test func otherBytesAreTCPUnlessThePortSaysHTTP() throws {
        let tcp = try Rig()
        try tcp.channel.writeInbound(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00]))
        #expect(tcp.detected == [.tcp])
        #expect(tcp.collect.text.utf8.count == 4)
        let declared = try Rig(declaredHTTP: true)
        try declared.channel.writeInbound(ByteBuffer(string: "HELLO\r\n"))
        #expect(declared.detected == [.http1], "a port declared http gets an HTTP error, not a relay")
    }

    @Test func aSilentClientIsTCPAfterTheTimeout() throws {
        let rig = try Rig()
        rig.channel.embeddedEventLoop.advanceTime(by: .milliseconds(499))
        #expect(rig.detected.isEmpty)
        rig.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(rig.detected == [.tcp], "server-first protocols are carried as TCP")
    }

    @Test func anEndBeforeAVerdictKeepsTheBytesAndTheEnd() throws {
        let rig = try Rig()
        try rig.channel.writeInbound(ByteBuffer(string: "GE"))
        rig.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(rig.detected == [.tcp])
        #expect(rig.collect.text == "GE")
        #expect(rig.collect.ended)
    }
}
