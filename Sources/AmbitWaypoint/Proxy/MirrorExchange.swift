import NIOCore
import NIOHTTP1

/// One mirrored copy of a request (`RequestMirror`): sent to an endpoint of the mirror
/// backend, its response read and dropped. It never touches the original request: it has
/// its own upstream exchange, its failures are silent, and it holds no pool slot of the
/// original's destination.
///
/// It keeps itself alive (`retained`) until its response ends or its connection closes,
/// since nothing else owns it (an upstream's owner is weak), and gives up after
/// `timeout` so a mirror that never answers cannot hold memory for long.
final class MirrorExchange: UpstreamOwner {
    static let timeout = TimeAmount.seconds(30)

    private let pool: UpstreamPool
    private let destination: DestinationState
    private var lease: EndpointBalancer.Lease?
    private var upstream: UpstreamHTTPHandler?
    private var retained: MirrorExchange?
    private var timer: Scheduled<Void>?

    private init(pool: UpstreamPool, destination: DestinationState, lease: EndpointBalancer.Lease) {
        self.pool = pool
        self.destination = destination
        self.lease = lease
    }

    /// Sends `head` and `parts` (the buffered body and its end) to one endpoint of `destination`.
    static func send(
        head: HTTPRequestHead, parts: [HTTPClientRequestPart], to destination: DestinationState, pool: UpstreamPool,
        kind: UpstreamHTTPHandler.Kind
    ) {
        guard let (lease, endpoint) = destination.pick(hash: nil) else { return }
        let mirror = MirrorExchange(pool: pool, destination: destination, lease: lease)
        mirror.retained = mirror
        mirror.timer = pool.loop.scheduleTask(in: timeout) { [weak mirror] in mirror?.finish(reusable: false) }
        pool.acquire(endpoint, kind: kind) { result in
            guard case .success(let upstream) = result, mirror.retained != nil else {
                if case .success(let upstream) = result { pool.release(upstream, reusable: true) }
                mirror.finish(reusable: false)
                return
            }
            mirror.upstream = upstream
            upstream.owner = mirror
            upstream.send(.head(head))
            for part in parts { upstream.send(part) }
            upstream.flush()
        }
    }

    private func finish(reusable: Bool) {
        guard retained != nil else { return }
        timer?.cancel()
        timer = nil
        if let upstream {
            self.upstream = nil
            pool.release(upstream, reusable: reusable)
        }
        if let lease {
            self.lease = nil
            destination.balancer.release(lease)
        }
        retained = nil
    }

    // MARK: - UpstreamOwner

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        if case .end = part { finish(reusable: true) }
    }

    func upstreamReadComplete() {}
    func upstreamWritabilityChanged() {}

    func upstreamClosed(_ error: (any Error)?) {
        upstream = nil
        finish(reusable: false)
    }

    /// The response is dropped, so it is always read at once.
    var downstreamWritable: Bool { true }
}
