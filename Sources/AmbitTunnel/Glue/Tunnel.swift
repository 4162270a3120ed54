import NIOCore

/// Joins an HBONE stream channel and a TCP channel once the CONNECT is established.
enum Tunnel {
    /// Bytes and end-of-input that arrived on the stream before the glue was in place (a
    /// DATA frame in the same read as the HEADERS, say). They go to the TCP side first.
    struct Preface {
        var bytes: [ByteBuffer] = []
        var ended = false
        var count: Int { bytes.reduce(0) { $0 + $1.readableBytes } }
    }

    /// Both channels must be on the same event loop and created with autoRead off, so that
    /// nothing is read before the glue can forward it.
    static func join(
        stream: Channel, tcp: Channel, preface: Preface, counter: ByteCounter
    ) throws {
        stream.eventLoop.preconditionInEventLoop()
        precondition(stream.eventLoop === tcp.eventLoop, "glued channels must share an event loop")
        let (streamGlue, tcpGlue) = GlueHandler.matchedPair(counter: counter)
        try stream.pipeline.syncOperations.addHandlers([StreamByteCodec(), streamGlue])
        try tcp.pipeline.syncOperations.addHandler(tcpGlue)
        if !preface.bytes.isEmpty {
            counter.add(preface.count, .fromFirst)
            for chunk in preface.bytes { tcp.write(chunk, promise: nil) }
            tcp.flush()
        }
        if preface.ended {
            stream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        // From here on the glue's read() decides when each side reads.
        stream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in stream.close(promise: nil) }
        tcp.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in tcp.close(promise: nil) }
    }
}
