import NIOConcurrencyHelpers

/// The admin server's routing table: exact (method, path) pairs to async handlers.
///
/// Thread-safe, and read on every request, so a component may add its debug endpoint after
/// the server started. Registering the same method and path again replaces the handler.
public final class AdminRoutes: Sendable {
    public typealias Handler = @Sendable (AdminRequest) async -> AdminResponse

    private let table = NIOLockedValueBox<[String: [AdminMethod: Handler]]>([:])

    public init() {}

    // MARK: - Registration

    public func register(_ method: AdminMethod, _ path: String, _ handler: @escaping Handler) {
        precondition(path.hasPrefix("/"), "admin route '\(path)' must start with '/'")
        table.withLockedValue { $0[path, default: [:]][method] = handler }
    }

    /// `GET path` (default `/metrics`) serves the registry's Prometheus exposition.
    public func registerMetrics(_ registry: MetricsRegistry, path: String = "/metrics") {
        register(.get, path) { _ in
            .text(registry.exposition(), contentType: MetricsRegistry.expositionContentType)
        }
    }

    /// `GET path` (default `/healthz/ready`) answers 200 `ready` or 503 with the reason,
    /// asking `check` on every probe.
    public func registerReadiness(path: String = "/healthz/ready", _ check: @escaping @Sendable () async -> Readiness) {
        register(.get, path) { _ in
            switch await check() {
            case .ready: .text("ready\n")
            case .notReady(let reason): .text("not ready: \(reason)\n", status: 503)
            }
        }
    }

    /// Every registered path, sorted.
    public var paths: [String] { table.withLockedValue { $0.keys.sorted() } }

    // MARK: - Lookup

    enum Resolution {
        case handler(Handler)
        /// Known path, other method: the methods it does accept, for the `Allow` header.
        case methodNotAllowed(allowed: [AdminMethod])
        /// Unknown path: every known path, for the 404 body.
        case notFound(known: [String])
    }

    func resolve(_ method: AdminMethod, _ path: String) -> Resolution {
        table.withLockedValue { table in
            guard let methods = table[path] else { return .notFound(known: table.keys.sorted()) }
            if let handler = methods[method] { return .handler(handler) }
            return .methodNotAllowed(allowed: methods.keys.sorted { $0.rawValue < $1.rawValue })
        }
    }
}
