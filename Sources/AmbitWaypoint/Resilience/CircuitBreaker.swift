import AmbitCore

/// Istio's connection-pool limits (Envoy's circuit breakers) for one destination: counters
/// of what is open or outstanding, and a yes/no on each new one. A "no" is answered
/// locally with `ResilienceReply.overloaded` (503, `x-envoy-overloaded: true`, `UO`), at
/// once, so a saturated backend sheds load instead of queueing without bound.
///
/// How the proxy uses it, as Envoy does:
/// 1. a request arrives: `tryAcquire(.request)` (`http2MaxRequests`, which Istio applies to
///    every protocol); release with `release(.request)` when the response ends;
/// 2. it needs a new upstream connection: `tryAcquire(.connection)` (`tcp.maxConnections`),
///    released when that connection closes. When connections are at the limit the request
///    waits for one instead: `tryAcquire(.pendingRequest)` (`http1MaxPendingRequests`),
///    released when it leaves the queue;
/// 3. a retry: `tryAcquire(.retry)` (`maxRetries`), released when the retry attempt ends;
/// 4. after each response on a connection, `connectionIsSpent(requestsServed:)` says
///    whether `maxRequestsPerConnection` asks to close it.
///
/// Cheap by design (four integers, no allocation), because it runs on every request. It is
/// a value the owner mutates: one per destination per event loop divides nothing and
/// needs no lock but lets each loop use the full limits; a proxy that must enforce the
/// limits across loops keeps one per destination behind a lock. Every acquire must be
/// paired with exactly one release.
public struct CircuitBreaker: Sendable {
    public enum Resource: Int, CaseIterable, Hashable, Sendable, CustomStringConvertible {
        case connection, pendingRequest, request, retry

        public var description: String {
            switch self {
            case .connection: "connections"
            case .pendingRequest: "pending requests"
            case .request: "requests"
            case .retry: "retries"
            }
        }
    }

    public struct Limits: Hashable, Sendable {
        public var maxConnections: Int
        public var maxPendingRequests: Int
        public var maxRequests: Int
        public var maxRetries: Int
        /// 0: a connection serves any number of requests.
        public var maxRequestsPerConnection: Int

        /// The pool's limits, or Istio's "unlimited" for a rule without `connectionPool`.
        public init(_ pool: DestinationRule.ConnectionPool?) {
            let pool = pool ?? DestinationRule.ConnectionPool()
            maxConnections = pool.tcp.maxConnections
            maxPendingRequests = pool.http.http1MaxPendingRequests
            maxRequests = pool.http.http2MaxRequests
            maxRetries = pool.http.maxRetries
            maxRequestsPerConnection = pool.http.maxRequestsPerConnection
        }

        public func limit(of resource: Resource) -> Int {
            switch resource {
            case .connection: maxConnections
            case .pendingRequest: maxPendingRequests
            case .request: maxRequests
            case .retry: maxRetries
            }
        }
    }

    public var limits: Limits
    private var open: (connection: Int, pendingRequest: Int, request: Int, retry: Int) = (0, 0, 0, 0)
    /// Refusals since start, per resource (Envoy's `upstream_rq_pending_overflow` and kin).
    public private(set) var overflows: (connection: Int, pendingRequest: Int, request: Int, retry: Int) = (0, 0, 0, 0)

    public init(limits: Limits) {
        self.limits = limits
    }

    public init(_ pool: DestinationRule.ConnectionPool?) {
        self.init(limits: Limits(pool))
    }

    /// How many of `resource` are open or outstanding now.
    public func inUse(_ resource: Resource) -> Int {
        switch resource {
        case .connection: open.connection
        case .pendingRequest: open.pendingRequest
        case .request: open.request
        case .retry: open.retry
        }
    }

    /// Takes one of `resource` if the limit allows; false means overflow.
    public mutating func tryAcquire(_ resource: Resource) -> Bool {
        guard inUse(resource) < limits.limit(of: resource) else {
            switch resource {
            case .connection: overflows.connection += 1
            case .pendingRequest: overflows.pendingRequest += 1
            case .request: overflows.request += 1
            case .retry: overflows.retry += 1
            }
            return false
        }
        adjust(resource, by: 1)
        return true
    }

    public mutating func release(_ resource: Resource) {
        // A release without an acquire is a bug in the caller; clamping keeps the limit
        // meaningful instead of letting one mistake admit unbounded traffic later.
        assert(inUse(resource) > 0, "released \(resource) that was never acquired")
        if inUse(resource) > 0 { adjust(resource, by: -1) }
    }

    /// Whether a connection that has served `requestsServed` requests must close
    /// (`maxRequestsPerConnection`; 0 means never).
    public func connectionIsSpent(requestsServed: Int) -> Bool {
        limits.maxRequestsPerConnection > 0 && requestsServed >= limits.maxRequestsPerConnection
    }

    private mutating func adjust(_ resource: Resource, by delta: Int) {
        switch resource {
        case .connection: open.connection += delta
        case .pendingRequest: open.pendingRequest += delta
        case .request: open.request += delta
        case .retry: open.retry += delta
        }
    }
}
