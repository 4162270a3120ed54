@preconcurrency import Dispatch
import Glibc
import NIOConcurrencyHelpers
import NIOCore

/// Connects a socket that was created in another namespace, without blocking a thread.
///
/// SwiftNIO can adopt a connected descriptor but cannot connect one it did not create, so
/// the connect happens here: a non-blocking `connect`, then a Dispatch write source waits
/// for the outcome (a socket becomes writable when the handshake finishes or fails) and
/// `SO_ERROR` says which. The caller hands the connected descriptor to
/// `ClientBootstrap.withConnectedSocket`.
public enum NonBlockingConnect {
    private static let queue = DispatchQueue(label: "ambit.redirect.connect")

    /// Connects `fd` to `address`; on failure or timeout `fd` is closed.
    public static func connect(
        _ fd: NIOBSDSocket.Handle, to address: SocketAddress, timeout: TimeAmount, on eventLoop: any EventLoop
    ) -> EventLoopFuture<NIOBSDSocket.Handle> {
        let promise = eventLoop.makePromise(of: NIOBSDSocket.Handle.self)
        let target = address.hostPortText
        let rc = address.withSockAddr { pointer, length in Glibc.connect(fd, pointer, socklen_t(length)) }
        if rc == 0 {
            promise.succeed(fd)
            return promise.futureResult
        }
        let code = errno
        guard code == EINPROGRESS else {
            Glibc.close(fd)
            promise.fail(connectError(target, code))
            return promise.futureResult
        }
        // Exactly one of "writable" and "timed out" finishes the attempt.
        let finished = NIOLockedValueBox(false)
        let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        let finish: @Sendable (Result<NIOBSDSocket.Handle, RedirectError>) -> Void = { result in
            let first = finished.withLockedValue { done -> Bool in
                defer { done = true }
                return !done
            }
            guard first else { return }
            source.cancel()
            switch result {
            case .success(let fd): promise.succeed(fd)
            case .failure(let error):
                Glibc.close(fd)
                promise.fail(error)
            }
        }
        source.setEventHandler {
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            finish(error == 0 ? .success(fd) : .failure(connectError(target, error)))
        }
        source.resume()
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.nanoseconds))) {
            finish(.failure(RedirectError(.timedOut, "connecting to \(target) timed out after \(timeout.nanoseconds / 1_000_000) ms")))
        }
        return promise.futureResult
    }

    private static func connectError(_ target: String, _ code: Int32) -> RedirectError {
        RedirectError(.connectFailed, "cannot connect to \(target): \(errnoText(code))")
    }
}

extension SocketAddress {
    /// `ip:port` (IPv6 in brackets) for messages.
    var hostPortText: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return self.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
