import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Upstream connections of one event loop, per endpoint: idle HTTP/1 keep-alive
/// connections to reuse, and one multiplexed HTTP/2 connection.
///
/// Owned by one event loop and touched only there (a request and its upstream always share
/// a thread, as Envoy's per-worker pools do), so there is no lock on the request path.
/// Over HBONE an "HTTP/1 connection" is one CONNECT stream: reusing it saves the CONNECT
/// round trip as keep-alive saves a TCP handshake.
final class UpstreamPool {
    let loop: any EventLoop
    let connector: any UpstreamConnector
    /// Idle HTTP/1 connections kept per endpoint; more are closed when released.
    let maximumIdlePerEndpoint: Int
    private var idle: [UpstreamEndpoint: [UpstreamHTTPHandler]] = [:]
    private var multiplexed: [UpstreamEndpoint: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>] = [:]
    /// Open HTTP/2 connections, so a shutdown can close them.
    private var multiplexedChannels: [ObjectIdentifier: Channel] = [:]

    init(loop: any EventLoop, connector: any UpstreamConnector, maximumIdlePerEndpoint: Int = 128) {
        self.loop = loop
        self.connector = connector
        self.maximumIdlePerEndpoint = maximumIdlePerEndpoint
    }

    /// An exchange with `endpoint`, ready for a request, given to `completion` on this loop
    /// (at once when an idle connection is reused).
    func acquire(
        _ endpoint: UpstreamEndpoint, kind: UpstreamHTTPHandler.Kind, _ completion: @escaping (Result<UpstreamHTTPHandler, any Error>) -> Void
    ) {
        switch kind {
        case .http1: acquireHTTP1(endpoint, completion)
        case .http2: acquireHTTP2(endpoint, completion)
        }
    }

    /// Gives an exchange back once its request is over. `reusable`: both messages ended
    /// cleanly and both sides allow keep-alive.
    func release(_ handler: UpstreamHTTPHandler, reusable: Bool) {
        handler.owner = nil
        switch handler.kind {
        case .http1:
            guard reusable, handler.isUsable, idle[handler.endpoint, default: []].count < maximumIdlePerEndpoint else {
                handler.abort()
                return
            }
            idle[handler.endpoint, default: []].append(handler)
        case .http2:
            // A finished stream is already closed; an unfinished one is reset.
            if !reusable { handler.abort() }
        }
    }

    /// Idle HTTP/1 connections and open HTTP/2 connections (for tests and /config_dump).
    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    func closeAll() {
        for handlers in idle.values { for h in handlers { h.abort() } }
        idle = [:]
        multiplexed = [:]
        for channel in multiplexedChannels.values { channel.close(promise: nil) }
        multiplexedChannels = [:]
    }

    // MARK: - HTTP/1

    private func acquireHTTP1(_ endpoint: UpstreamEndpoint, _ completion: @escaping (Result<UpstreamHTTPHandler, any Error>) -> Void) {
        while let handler = idle[endpoint]?.popLast() {
            if handler.isUsable { return completion(.success(handler)) }
        }
        let handler = UpstreamHTTPHandler(endpoint: endpoint, kind: .http1)
        handler.onClose = { [weak self, unowned handler] in self?.forgetIdle(handler) }
        connector.connect(to: endpoint, on: loop) { channel in
            let sync = channel.pipeline.syncOperations
            try sync.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
            try sync.addHandler(handler)
        }.assumeIsolated().whenComplete { result in
            completion(result.map { _ in handler })
        }
    }

    private func forgetIdle(_ handler: UpstreamHTTPHandler) {
        idle[handler.endpoint]?.removeAll { $0 === handler }
        if idle[handler.endpoint]?.isEmpty == true { idle[handler.endpoint] = nil }
    }

    // MARK: - HTTP/2

    private func acquireHTTP2(_ endpoint: UpstreamEndpoint, _ completion: @escaping (Result<UpstreamHTTPHandler, any Error>) -> Void) {
        let connection: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>
        if let existing = multiplexed[endpoint] {
            connection = existing
        } else {
            connection = connectHTTP2(endpoint)
            multiplexed[endpoint] = connection
        }
        let loop = self.loop
        connection.assumeIsolated().whenComplete { result in
            switch result {
            case .failure(let error):
                completion(.failure(error))
            case .success(let multiplexer):
                let handler = UpstreamHTTPHandler(endpoint: endpoint, kind: .http2)
                let bound = NIOLoopBound(handler, eventLoop: loop)
                multiplexer.createStreamChannel { stream in
                    stream.eventLoop.makeCompletedFuture {
                        try stream.pipeline.syncOperations.addHandlers([HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http), bound.value])
                    }
                }.assumeIsolated().whenComplete { created in
                    if case .failure = created, self.multiplexed[endpoint] === connection {
                        // A connection that cannot open streams (GOAWAY, closed) is dropped for the next request.
                        self.multiplexed[endpoint] = nil
                    }
                    completion(created.map { _ in handler })
                }
            }
        }
    }

    private func connectHTTP2(_ endpoint: UpstreamEndpoint) -> EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer> {
        let promise = loop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
        connector.connect(to: endpoint, on: loop) { channel in
            let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: InnerHTTP2.connection, streamConfiguration: InnerHTTP2.stream
            ) { stream in stream.close() }  // servers do not push to a waypoint
            promise.succeed(multiplexer)
            let id = ObjectIdentifier(channel)
            self.multiplexedChannels[id] = channel
            channel.closeFuture.assumeIsolated().whenComplete { _ in
                self.multiplexedChannels[id] = nil
                if self.multiplexed[endpoint] === promise.futureResult { self.multiplexed[endpoint] = nil }
            }
        }.whenFailure { error in
            promise.fail(error)
        }
        let future = promise.futureResult
        future.assumeIsolated().whenFailure { _ in
            if self.multiplexed[endpoint] === future { self.multiplexed[endpoint] = nil }
        }
        return future
    }
}

/// HTTP/2 settings for HTTP/2 spoken inside a tunnel (downstream gRPC, upstream h2).
/// Windows of 1 MiB per stream let a gRPC stream move data without a round trip per 64 KiB;
/// the HBONE layer below bounds memory per tunnel in any case.
enum InnerHTTP2 {
    static let streamWindow = 1 << 20

    static var connection: NIOHTTP2Handler.ConnectionConfiguration {
        var c = NIOHTTP2Handler.ConnectionConfiguration()
        c.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 1000),
            HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 64 * 1024),
        ]
        c.targetWindowSize = 4 * streamWindow
        return c
    }

    static var stream: NIOHTTP2Handler.StreamConfiguration {
        var s = NIOHTTP2Handler.StreamConfiguration()
        s.targetWindowSize = streamWindow
        return s
    }
}
