import CAmbitNet
import Glibc
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Runs short pieces of work inside other network namespaces.
///
/// `setns` moves only the calling thread, so the work runs on dedicated threads that enter
/// the target namespace, do one thing (create a socket, apply a ruleset) and return home
/// before the next job. A socket keeps the namespace it was created in for life, so
/// everything after creation (connect, accept, I/O) happens on ordinary event loops.
/// Event-loop threads never change namespace.
public final class NamespaceExecutor: Sendable {
    private let pool: NIOThreadPool
    private let home: NetworkNamespace

    /// - Parameter threads: how many namespace jobs may run at once. Jobs are a few
    ///   syscalls each; two threads keep one slow `nft` transaction from delaying sockets.
    public init(threads: Int = 2) throws {
        self.home = try NetworkNamespace.current()
        self.pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    /// Runs `body` inside `namespace` and returns its result on `eventLoop`.
    public func run<T: Sendable>(
        in namespace: NetworkNamespace, on eventLoop: any EventLoop, _ body: @escaping @Sendable () throws -> T
    ) -> EventLoopFuture<T> {
        let home = self.home
        return pool.runIfActive(eventLoop: eventLoop) {
            try Self.inside(namespace, home: home, body)
        }
    }

    /// Async form of `run(in:on:_:)`.
    public func run<T: Sendable>(in namespace: NetworkNamespace, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let home = self.home
        return try await pool.runIfActive {
            try Self.inside(namespace, home: home, body)
        }
    }

    /// Runs `body` inside `namespace` on the calling thread and comes straight back.
    ///
    /// For the connection path, where a hop to another thread costs more than the work:
    /// creating a socket is two `setns` calls and a `socket`, a few microseconds. `body`
    /// must be short and must not block; the calling thread is in the pod's namespace
    /// while it runs.
    public func runHere<T>(in namespace: NetworkNamespace, _ body: () throws -> T) throws -> T {
        try Self.inside(namespace, home: home, body)
    }

    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }

    /// Enters `namespace`, runs `body`, and always returns to `home`. If the thread cannot
    /// go home it must not run anyone else's job in the wrong namespace, so that is fatal.
    private static func inside<T>(_ namespace: NetworkNamespace, home: NetworkNamespace, _ body: () throws -> T) throws -> T {
        guard ambit_enter_netns(namespace.descriptor) == 0 else {
            let reason = errnoText()
            throw RedirectError(
                .namespaceUnavailable,
                "cannot enter the network namespace \(namespace.path): \(reason); the daemon needs CAP_SYS_ADMIN")
        }
        defer {
            if ambit_enter_netns(home.descriptor) != 0 {
                fatalError("cannot return a namespace thread to the node's network namespace: \(errnoText())")
            }
        }
        return try body()
    }
}
