// The first handler on every accepted connection: it holds the first bytes until it can
// tell an HTTP/2 preface from an HTTP/1 request line (PrefaceSniffer), installs the
// matching pipeline behind itself, replays the bytes and leaves.
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOWebSocket

final class ProtocolSwitchHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let app: TestAppContext
    private var buffered: ByteBuffer?

    init(app: TestAppContext) { self.app = app }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if buffered == nil { buffered = chunk } else { buffered!.writeBuffer(&chunk) }
        let decision = PrefaceSniffer.classify(buffered!.readableBytesView)
        guard decision != .needMoreBytes else { return }
        do {
            if decision == .http2 { try installHTTP2(context: context) } else { try installHTTP1(context: context) }
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        app.stats.connectionOpened(http2: decision == .http2)
        let bytes = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func installHTTP1(context: ChannelHandlerContext) throws {
        let handler = TestAppHTTPHandler(app: app, isHTTP2: false)
        let stats = app.stats
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, head in
                let path = head.uri.split(separator: "?").first ?? ""
                return channel.eventLoop.makeSucceededFuture(path == "/ws" ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(WebSocketEchoHandler(stats: stats))
                }
            })
        let sync = context.pipeline.syncOperations
        let handlerBox = NIOLoopBound(handler, eventLoop: context.eventLoop)
        let pipeline = context.pipeline
        // This handler is alone in the pipeline until now, so `.last` is "behind me".
        try sync.configureHTTPServerPipeline(
            position: .last,
            withPipeliningAssistance: true,
            withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { _ in
                    // The connection is a WebSocket now; the HTTP handler has nothing left to do.
                    pipeline.syncOperations.removeHandler(handlerBox.value, promise: nil)
                }
            ),
            withErrorHandling: true)
        try sync.addHandler(handler, position: .last)
    }

    private func installHTTP2(context: ChannelHandlerContext) throws {
        let app = self.app
        _ = try context.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: .init(),
            streamConfiguration: .init(),
            position: .last
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    TestAppHTTPHandler(app: app, isHTTP2: true),
                ])
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        context.fireChannelInactive()
    }
}
