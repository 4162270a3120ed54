import AmbitTunnel
import NIOCore
import NIOHTTP1

/// A WebSocket (or any HTTP/1.1 `Upgrade`) that the upstream accepted with 101: from here
/// on both connections carry opaque bytes. The HTTP handlers leave both pipelines and
/// `TCPRelay` glues them, with its backpressure and half-close.
///
/// Bytes that arrived behind the 101 (a server that talks first) are kept: the HTTP
/// decoders stop at an upgrade and hand what they hold to the `InputHoldHandler` added
/// behind them, which the relay replays.
enum UpgradeSwitch {
    /// Runs after the current read (the decoders must not be removed from inside their
    /// own decode loop); `downstream` and `upstream` share an event loop.
    static func perform(downstream: Channel, upstream: Channel, onDone: @escaping (TCPRelay.Stats?) -> Void) {
        for channel in [downstream, upstream] {
            channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
        let loop = downstream.eventLoop
        let done = NIOLoopBound(onDone, eventLoop: loop)
        loop.execute {
            let removed: [EventLoopFuture<Void>]
            do {
                let down = downstream.pipeline.syncOperations
                let up = upstream.pipeline.syncOperations
                removed = try strip(downstream, http: [
                    try down.handler(type: DownstreamHTTPHandler.self),
                    try down.handler(type: HTTPServerProtocolErrorHandler.self),
                    try down.handler(type: HTTPServerPipelineHandler.self),
                    try down.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self),
                    try down.handler(type: HTTPResponseEncoder.self),
                ]) + strip(upstream, http: [
                    try up.handler(type: UpstreamHTTPHandler.self),
                    try up.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self),
                    try up.handler(type: NIOHTTPRequestHeadersValidator.self),
                    try up.handler(type: HTTPRequestEncoder.self),
                ])
            } catch {
                downstream.close(promise: nil)
                upstream.close(promise: nil)
                done.value(nil)
                return
            }
            // A decoder leaves the pipeline a tick later (after handing over its leftovers).
            EventLoopFuture.andAllSucceed(removed, on: loop).assumeIsolated().whenComplete { result in
                guard case .success = result else {
                    downstream.close(promise: nil)
                    upstream.close(promise: nil)
                    done.value(nil)
                    return
                }
                TCPRelay.join(downstream, upstream).assumeIsolated().whenComplete { result in
                    done.value(try? result.get())
                }
            }
        }
    }

    /// Adds the hold at the end, then removes `handlers` (last first, so the decoder's
    /// leftovers flow straight into the hold).
    private static func strip(_ channel: Channel, http handlers: [any RemovableChannelHandler]) throws -> [EventLoopFuture<Void>] {
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(InputHoldHandler())
        return handlers.map { handler in
            let promise = channel.eventLoop.makePromise(of: Void.self)
            sync.removeHandler(handler, promise: promise)
            return promise.futureResult
        }
    }
}
