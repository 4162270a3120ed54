import Logging
import NIOCore
import NIOTLS

/// Closes a TLS connection that did not negotiate ALPN `h2`.
///
/// BoringSSL completes a handshake without ALPN when the client offers none we support, so
/// "h2 required" must be enforced after the fact. Without this, an HTTP/1.1 client would
/// get an HTTP/2 preface error deep in the stack instead of a clean close at the TLS layer.
public final class ALPNGuard: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    private let required: String
    private let logger: Logger

    public init(required: String = "h2", logger: Logger = Logger(label: "ambit.tls")) {
        self.required = required
        self.logger = logger
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted(let negotiated) = event {
            guard negotiated == required else {
                logger.info(
                    "closing connection: ALPN '\(required)' was not negotiated",
                    metadata: ["negotiated": "\(negotiated ?? "none")", "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
                context.close(promise: nil)
                return
            }
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
