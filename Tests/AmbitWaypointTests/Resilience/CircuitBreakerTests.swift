import AmbitCore
import AmbitWaypoint
import Testing

@Suite struct CircuitBreakerTests {
    func pool(maxConnections: Int = DestinationRule.ConnectionPool.unlimited, pending: Int = DestinationRule.ConnectionPool.unlimited,
              requests: Int = DestinationRule.ConnectionPool.unlimited, retries: Int = DestinationRule.ConnectionPool.unlimited,
              perConnection: Int = 0) -> DestinationRule.ConnectionPool {
        var tcp = DestinationRule.ConnectionPool.TCP()
        tcp.maxConnections = maxConnections
        var http = DestinationRule.ConnectionPool.HTTP()
        http.http1MaxPendingRequests = pending
        http.http2MaxRequests = requests
        http.maxRetries = retries
        http.maxRequestsPerConnection = perConnection
        return DestinationRule.ConnectionPool(tcp: tcp, http: http)
    }

    @Test func limitsComeFromTheConnectionPool() {
        let limits = CircuitBreaker.Limits(pool(maxConnections: 1, pending: 2, requests: 3, retries: 4, perConnection: 5))
        #expect(limits.maxConnections == 1)
        #expect(limits.maxPendingRequests == 2)
        #expect(limits.maxRequests == 3)
        #expect(limits.maxRetries == 4)
        #expect(limits.maxRequestsPerConnection == 5)
    }

    @Test func withoutAPoolNothingOverflows() {
        var breaker = CircuitBreaker(nil)
        for resource in CircuitBreaker.Resource.allCases {
            for _ in 0..<10_000 { #expect(breaker.tryAcquire(resource) == true) }
        }
        #expect(breaker.connectionIsSpent(requestsServed: 1_000_000) == false)
    }

    @Test func overflowIsRefusedAtOnceAndCounted() {
        var breaker = CircuitBreaker(pool(requests: 2))
        #expect(breaker.tryAcquire(.request) == true)
        #expect(breaker.tryAcquire(.request) == true)
        #expect(breaker.tryAcquire(.request) == false)
        #expect(breaker.tryAcquire(.request) == false)
        #expect(breaker.inUse(.request) == 2)
        #expect(breaker.overflows.request == 2)
        breaker.release(.request)
        #expect(breaker.tryAcquire(.request) == true)
        #expect(breaker.tryAcquire(.request) == false)
        #expect(breaker.overflows.request == 3)
    }

    @Test func eachResourceHasItsOwnLimit() {
        var breaker = CircuitBreaker(pool(maxConnections: 1, pending: 1, requests: 100, retries: 0))
        #expect(breaker.tryAcquire(.connection) == true)
        #expect(breaker.tryAcquire(.connection) == false)
        // With the connection limit reached the next request queues, once.
        #expect(breaker.tryAcquire(.pendingRequest) == true)
        #expect(breaker.tryAcquire(.pendingRequest) == false)
        #expect(breaker.tryAcquire(.retry) == false)
        #expect(breaker.overflows.connection == 1)
        #expect(breaker.overflows.pendingRequest == 1)
        #expect(breaker.overflows.retry == 1)
        #expect(breaker.tryAcquire(.request) == true)
        breaker.release(.pendingRequest)
        #expect(breaker.tryAcquire(.pendingRequest) == true)
    }

    @Test func aConnectionIsSpentAfterItsRequestQuota() {
        let breaker = CircuitBreaker(pool(perConnection: 3))
        #expect(breaker.connectionIsSpent(requestsServed: 2) == false)
        #expect(breaker.connectionIsSpent(requestsServed: 3))
    }

    @Test func overflowIsAnsweredAsEnvoyDoes() {
        let reply = ResilienceReply.overloaded
        #expect(reply.status == 503)
        #expect(reply.responseFlag == "UO")
        #expect(reply.headers.contains { $0.name == "x-envoy-overloaded" && $0.value == "true" })
    }
}
