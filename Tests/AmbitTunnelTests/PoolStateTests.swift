import Testing

@testable import AmbitTunnel

struct PoolStateTests {
    @Test func streamsShareAConnectionUntilItIsFull() {
        var pool = PoolState<String>(maximumStreams: 3)
        #expect(pool.reserve("b") == .new(1))
        #expect(pool.reserve("b") == .existing(1), "a connection still connecting takes the next stream")
        #expect(pool.reserve("b") == .existing(1))
        #expect(pool.reserve("b") == .new(2), "the fourth stream opens a second connection")
        #expect(pool.reserve("other") == .new(3), "keys never share connections")
        #expect(pool.connectionCount == 3)
    }

    @Test func aFreedSlotIsReused() {
        var pool = PoolState<String>(maximumStreams: 1)
        _ = pool.reserve("k")
        _ = pool.release("k", id: 1, now: 0)
        #expect(pool.reserve("k") == .existing(1))
    }

    @Test func theServersLimitLowersCapacity() {
        var pool = PoolState<String>(maximumStreams: 100)
        _ = pool.reserve("k")
        pool.setCapacity("k", id: 1, serverLimit: 1)
        #expect(pool.reserve("k") == .new(2))
    }

    @Test func idleConnectionsCloseAfterTheTimeout() {
        var pool = PoolState<String>(maximumStreams: 100)
        _ = pool.reserve("k")
        _ = pool.reserve("k")
        _ = pool.release("k", id: 1, now: 100)
        #expect(pool.expireIdle(now: 10_000, idleTimeout: 300).isEmpty, "one stream still open")
        _ = pool.release("k", id: 1, now: 200)
        #expect(pool.expireIdle(now: 499, idleTimeout: 300).isEmpty)
        let expired = pool.expireIdle(now: 500, idleTimeout: 300)
        #expect(expired.map(\.1) == [1])
        #expect(pool.connectionCount == 0)
    }

    @Test func aNewStreamResetsTheIdleClock() {
        var pool = PoolState<String>(maximumStreams: 100)
        _ = pool.reserve("k")
        _ = pool.release("k", id: 1, now: 0)
        _ = pool.reserve("k")
        #expect(pool.expireIdle(now: 1000, idleTimeout: 300).isEmpty)
    }

    @Test func goawayDrainsThenCloses() {
        var pool = PoolState<String>(maximumStreams: 100)
        _ = pool.reserve("k")
        let closedAtOnce = pool.drain("k", id: 1)
        #expect(!closedAtOnce, "a stream is still open")
        #expect(pool.reserve("k") == .new(2), "no new stream on a draining connection")
        let closed = pool.release("k", id: 1, now: 0)
        #expect(closed, "the last stream of a draining connection closes it")
        #expect(pool.connectionCount == 1)
    }

    @Test func releasingMoreThanReservedNeverGoesNegative() {
        var pool = PoolState<String>(maximumStreams: 2)
        _ = pool.reserve("k")
        _ = pool.release("k", id: 1, now: 0)
        _ = pool.release("k", id: 1, now: 0)
        #expect(pool.reserve("k") == .existing(1))
        #expect(pool.reserve("k") == .existing(1))
        #expect(pool.reserve("k") == .new(2))
    }
}
