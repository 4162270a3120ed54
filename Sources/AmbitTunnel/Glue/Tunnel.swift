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
        // What the TCP side read before now (see InputHoldHandler) goes in first.
        var held = Tunnel.Preface()
        if let hold = try? tcp.pipeline.syncOperations.handler(type: InputHoldHandler.self) {
            held = hold.take()
            tcp.pipeline.syncOperations.removeHandler(hold, promise: nil)
        }
        try tcp.pipeline.syncOperations.addHandler(tcpGlue)
        if !held.bytes.isEmpty {
            counter.add(held.count, .fromSecond)
            for chunk in held.bytes { stream.write(chunk, promise: nil) }
            stream.flush()
        }
        if held.ended {
            tcp.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if !tcp.isActive {
            // The socket closed completely before the tunnel existed: deliver what it sent,
            // end the stream, and let the stream finish on its own.
            stream.close(mode: .output, promise: nil)
            stream.eventLoop.scheduleTask(in: GlueHandler.lingerTimeout) { stream.close(promise: nil) }
        }
        if !preface.bytes.isEmpty {
            counter.add(preface.count, .fromFirst)
            for chunk in preface.bytes { tcp.write(chunk, promise: nil) }
            tcp.flush()
        }
        if preface.ended {
            stream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        // From here on the glue's read() decides when each side reads.
        // A stream channel does not start reading when autoRead is switched on (a socket
        // does), so ask once; the glue's read() takes it from there.
        stream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in stream.close(promise: nil) }
        stream.read()
        tcp.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in tcp.close(promise: nil) }
    }
}
