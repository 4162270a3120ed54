import AmbitCore
import AmbitTesting
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import AmbitTunnel

/// A CONNECT served in-process (`ConnectDecision.terminate`), as a waypoint does: both ends
/// see the stream as a byte channel, early bytes are kept, and half-close crosses as
/// END_STREAM.
@Suite(.timeLimit(.minutes(2)))
struct LocalStreamTests {
    /// Upper-cases what it reads and ends its output when its input ends.
    final class Shout: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let text = String(buffer: unwrapInboundIn(data)).uppercased()
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { context.close(mode: .output, promise: nil) }
        }
    }

    /// Collects what it reads until the input ends.
    final class Collect: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let done: EventLoopPromise<String>
        var text = ""
        init(_ done: EventLoopPromise<String>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { text += String(buffer: unwrapInboundIn(data)) }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { done.succeed(text) }
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(text) }
    }

    @Test func aTerminatedStreamIsServedLocallyBothWays() async throws {
        let authorities = NIOLockedValueBox<[String]>([])
        let mesh = try await TunnelHarness(decide: { request in
            authorities.withLockedValue { $0.append(request.authority.description) }
            return .terminate(LocalStream { channel in try channel.pipeline.syncOperations.addHandler(Shout()) })
        })
        let stream = try await mesh.open(authority: HostPort(host: "10.96.0.10", port: 80))
        let reply = try await stream.channel.eventLoop.flatSubmit { () -> EventLoopFuture<String> in
            let done = stream.channel.eventLoop.makePromise(of: String.self)
            do {
                try stream.terminate { channel in try channel.pipeline.syncOperations.addHandler(Collect(done)) }
            } catch {
                done.fail(error)
            }
            stream.channel.write(ByteBuffer(string: "hello "), promise: nil)
            stream.channel.writeAndFlush(ByteBuffer(string: "waypoint"), promise: nil)
            stream.channel.close(mode: .output, promise: nil)
            return done.futureResult
        }.get()
        #expect(reply == "HELLO WAYPOINT")
        #expect(authorities.withLockedValue { $0 } == ["10.96.0.10:80"], "the authority is the service, never dialled")
        let record = try #require(try await mesh.waitForRecords(1).first)
        #expect(record.outcome == .completed)
        await mesh.shutdown()
    }
}
