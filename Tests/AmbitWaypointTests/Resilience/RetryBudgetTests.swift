import AmbitWaypoint
import Testing

@Suite struct RetryBudgetTests {
    func withdrawAll(_ budget: inout RetryBudget, now: Double) -> Int {
        var granted = 0
        while budget.tryWithdraw(now: now) { granted += 1 }
        return granted
    }

    @Test func aQuietServiceStillGetsTenRetriesASecond() {
        var budget = RetryBudget()
        #expect(withdrawAll(&budget, now: 100.2) == 10)
        #expect(budget.tryWithdraw(now: 100.9) == false)
        #expect(withdrawAll(&budget, now: 101.0) == 10)
        #expect(withdrawAll(&budget, now: 105.5) == 10)
    }

    @Test func retriesAreHeldToTwentyPercentOfTheWindow() {
        var budget = RetryBudget()
        for second in 0..<5 {
            for i in 0..<200 { budget.recordRequest(now: 1000 + Double(second) + Double(i) / 200) }
        }
        #expect(budget.remaining(now: 1005.5) == 200)
        // 1000 requests in the window: 200 retries, and the floor adds none beyond them.
        #expect(withdrawAll(&budget, now: 1005.5) == 200)
        #expect(budget.remaining(now: 1005.6) == 0)
    }

    @Test func theWindowSlides() {
        func busySecond() -> RetryBudget {
            var budget = RetryBudget()
            for i in 0..<1000 { budget.recordRequest(now: 2000 + Double(i) / 1000) }
            return budget
        }
        // Nine and a half seconds on, those requests still earn retries…
        var stillInside = busySecond()
        #expect(withdrawAll(&stillInside, now: 2009.5) == 200)
        // …ten and a half seconds on they have left the window: only the floor is left.
        var leftBehind = busySecond()
        #expect(withdrawAll(&leftBehind, now: 2010.5) == 10)
        // Retries leave the window the same way.
        var spent = busySecond()
        #expect(withdrawAll(&spent, now: 2000.9) == 200)
        for i in 0..<1000 { spent.recordRequest(now: 2010 + Double(i) / 1000) }
        #expect(withdrawAll(&spent, now: 2010.5) == 200)
    }

    @Test func aLongSilenceClearsEverything() {
        var budget = RetryBudget()
        for _ in 0..<500 { budget.recordRequest(now: 10) }
        #expect(withdrawAll(&budget, now: 10) == 100)
        #expect(budget.remaining(now: 10_000) == 10)
    }

    @Test func theShareIsConfigurable() {
        var budget = RetryBudget(.init(percent: 50, window: .seconds(5), minRetriesPerSecond: 0))
        for _ in 0..<10 { budget.recordRequest(now: 0) }
        #expect(withdrawAll(&budget, now: 0.5) == 5)
        #expect(withdrawAll(&budget, now: 5.5) == 0)
    }
}
