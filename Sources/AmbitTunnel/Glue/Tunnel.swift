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
        replay(held, from: tcp, to: stream, counter: counter, direction: .fromSecond)
        if !tcp.isActive {
            // The socket closed completely before the tunnel existed: deliver what it sent,
            // end the stream, and let the stream finish on its own.
            stream.close(mode: .output, promise: nil)
            stream.eventLoop.scheduleTask(in: GlueHandler.lingerTimeout) { stream.close(promise: nil) }
        }
        replay(preface, from: stream, to: tcp, counter: counter, direction: .fromFirst)
        // From here on the glue's read() decides when each side reads.
        // A stream channel does not start reading when autoRead is switched on (a socket
        // does), so ask once; the glue's read() takes it from there.
        stream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in stream.close(promise: nil) }
        stream.read()
        tcp.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in tcp.close(promise: nil) }
    }

    /// Ends a stream here instead of gluing it: the byte codec, then the caller's handlers,
    /// then what arrived early, then reading starts (see `LocalStream`).
    static func terminate(stream: Channel, preface: Preface, initialize: (Channel) throws -> Void) throws {
        stream.eventLoop.preconditionInEventLoop()
        let codec = StreamByteCodec()
        let sync = stream.pipeline.syncOperations
        try sync.addHandler(codec)
        try initialize(stream)
        let context = try sync.context(handler: codec)
        if !preface.bytes.isEmpty {
            for chunk in preface.bytes { context.fireChannelRead(NIOAny(chunk)) }
            context.fireChannelReadComplete()
        }
        if preface.ended { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        stream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in stream.close(promise: nil) }
        stream.read()
    }

    /// Writes what `source` read before the glue existed into `destination`, and if the
    /// source's input had already ended, tells the source's glue so it ends the other side.
    private static func replay(
        _ early: Preface, from source: Channel, to destination: Channel, counter: ByteCounter,
        direction: ByteCounter.Direction
    ) {
        if !early.bytes.isEmpty {
            counter.add(early.count, direction)
            for chunk in early.bytes { destination.write(chunk, promise: nil) }
            destination.flush()
        }
        if early.ended {
            source.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
    }
}
