import NIOCore

/// Joins two TCP channels byte for byte: the node's passthrough and plaintext-inbound
/// paths, where no tunnel is involved but backpressure and half-close still matter.
public enum TCPRelay {
    /// Bytes moved by one relay; `failure` is set when it ended with a reset or error.
    public struct Stats: Sendable {
        public let bytesFromFirst: Int
        public let bytesFromSecond: Int
        public let failure: String?
    }

    /// Glues `first` and `second` (same event loop, both created with autoRead off and an
    /// `InputHoldHandler`). Completes with the byte counts once both have closed.
    public static func join(_ first: Channel, _ second: Channel) -> EventLoopFuture<Stats> {
        first.eventLoop.flatSubmit {
            precondition(first.eventLoop === second.eventLoop, "relayed channels must share an event loop")
            let counter = ByteCounter(firstName: "downstream", secondName: "upstream")
            let (a, b) = GlueHandler.matchedPair(counter: counter)
            do {
                let heldFirst = try take(first)
                let heldSecond = try take(second)
                try first.pipeline.syncOperations.addHandler(a)
                try second.pipeline.syncOperations.addHandler(b)
                for (held, from, to, direction) in [
                    (heldFirst, first, second, ByteCounter.Direction.fromFirst), (heldSecond, second, first, .fromSecond),
                ] {
                    if !held.bytes.isEmpty {
                        counter.add(held.count, direction)
                        for chunk in held.bytes { to.write(chunk, promise: nil) }
                        to.flush()
                    }
                    if held.ended { from.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
                }
            } catch {
                first.close(promise: nil)
                second.close(promise: nil)
                return first.eventLoop.makeFailedFuture(error)
            }
            first.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in first.close(promise: nil) }
            second.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in second.close(promise: nil) }
            // An HTTP/2 stream channel (an HBONE stream, as both sides are at a waypoint)
            // does not start reading when autoRead is switched on, as a socket does: ask once
            // (as `Tunnel.join` does); the glue's read() takes it from there.
            first.read()
            second.read()
            return first.closeFuture.and(second.closeFuture).assumeIsolated().map { _ in
                Stats(bytesFromFirst: counter.fromFirst, bytesFromSecond: counter.fromSecond, failure: counter.closeReason)
            }.nonisolated()
        }
    }

    private static func take(_ channel: Channel) throws -> Tunnel.Preface {
        guard let hold = try? channel.pipeline.syncOperations.handler(type: InputHoldHandler.self) else { return .init() }
        let held = hold.take()
        channel.pipeline.syncOperations.removeHandler(hold, promise: nil)
        return held
    }
}
