import AmbitCore
import AmbitTesting
import NIOConcurrencyHelpers
import Testing

@testable import AmbitIdentity

struct RotationPolicyTests {
    let policy = RotationPolicy()

    @Test func refreshesAtHalfLife() {
        #expect(policy.refreshTime(notBefore: 1000, notAfter: 1000 + 86400) == 1000 + 43200)
    }

    @Test func clampsVeryShortAndVeryLongLifetimes() {
        // 4 s of life: not sooner than the minimum interval... but never after expiry.
        #expect(policy.refreshTime(notBefore: 0, notAfter: 4) < 4)
        // 60 days: refreshed after at most the maximum interval (7 days).
        #expect(policy.refreshTime(notBefore: 0, notAfter: 60 * 86400) == 7 * 86400)
        // 30 s: half life would be 15 s, above the 10 s minimum.
        #expect(policy.refreshTime(notBefore: 0, notAfter: 30) == 15)
    }

    @Test func backsOffExponentiallyWithFullJitterUpToTheCap() {
        #expect(policy.retryDelay(attempt: 1, random: 0.999) < 1.0)
        #expect(policy.retryDelay(attempt: 2, random: 0.5) == 1.0)
        #expect(policy.retryDelay(attempt: 4, random: 0.5) == 4.0)
        #expect(policy.retryDelay(attempt: 30, random: 0.5) == 30.0, "capped at 60 s before jitter")
        #expect(policy.retryDelay(attempt: 5, random: 0) == 0, "full jitter reaches zero")
    }
}

/// The certificate manager on a manual clock: a day of certificate life in microseconds.
@Suite(.timeLimit(.minutes(1)))
struct CertificateManagerTests {
    @Test func fetchesOnDemandAndSharesConcurrentFetches() async throws {
        let pki = try TestPKI()
        let provider = CountingProvider(LocalCAProvider(ca: try pki.authority()))
        let manager = CertificateManager(provider: provider, clock: ManualClock(now: pki.clock.now()))
        let id = pki.id("a", "b")
        let serials = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 { group.addTask { try await manager.certificate(for: id).serial } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(serials.count == 1)
        #expect(provider.fetches == 1)
        _ = try await manager.certificate(for: id)
        #expect(provider.fetches == 1, "a valid certificate is served from memory")
    }

    @Test func renewsAtHalfLife() async throws {
        let clock = ManualClock(now: SystemWallClock().now())
        let pki = try TestPKI(clock: clock)
        let manager = CertificateManager(provider: LocalCAProvider(ca: try pki.authority()), clock: clock)
        let id = pki.id("a", "b")
        let first = try await manager.certificate(for: id)
        try await clock.waitForSleepers(1)
        let halfLife = first.notBefore + (first.notAfter - first.notBefore) / 2
        #expect(clock.nextDeadline == halfLife)

        clock.advance(to: halfLife - 1)
        #expect(try await manager.certificate(for: id).serial == first.serial, "not renewed before half life")
        clock.advance(to: halfLife)
        try await waitUntil("the certificate is renewed") { await manager.status().first?.serial != first.serial }
        let second = try await manager.certificate(for: id)
        #expect(second.notAfter > first.notAfter)
    }

    @Test func keepsTheOldCertificateWhileRenewalFailsThenDropsItAtExpiry() async throws {
        let clock = ManualClock(now: SystemWallClock().now())
        let pki = try TestPKI(clock: clock)
        let provider = FlakyProvider(LocalCAProvider(ca: try pki.authority(), ttl: 3600))
        let manager = CertificateManager(provider: provider, clock: clock, random: { 0.5 })
        let id = pki.id("a", "b")
        let cert = try await manager.certificate(for: id)

        provider.failing = true
        try await clock.waitForSleepers(1)
        clock.advance(to: clock.nextDeadline!)
        // Attempt 1 failed: the retry waits base × 2^0 × 0.5 = 0.5 s, and the old certificate
        // is still what connections get.
        try await waitUntil("the first renewal has failed") { await manager.status().first?.consecutiveFailures == 1 }
        try await clock.waitForSleepers(1)
        #expect(clock.nextDeadline! - clock.now() == 0.5)
        #expect(try await manager.certificate(for: id).serial == cert.serial)
        #expect(await manager.status().first?.lastError?.contains("CA is down") == true)

        clock.advance(by: 0.5)
        try await waitUntil("the second renewal has failed") { await manager.status().first?.consecutiveFailures == 2 }
        try await clock.waitForSleepers(1)
        #expect(clock.nextDeadline! - clock.now() == 1.0, "the second retry waits twice as long")

        // Past expiry with the CA still down: the certificate is gone and asking fails loudly.
        clock.advance(to: cert.notAfter)
        clock.advance(by: 60)
        try await waitUntil("the expired certificate is dropped") { await manager.status().first?.serial == nil }
        await #expect(throws: IdentityError.self) { _ = try await manager.certificate(for: id) }

        // The CA comes back: once the backoff has passed, the next request gets a fresh one.
        provider.failing = false
        clock.advance(by: 60)
        let fresh = try await manager.certificate(for: id)
        #expect(fresh.serial != cert.serial)
    }

    @Test func aFailedFirstFetchIsNotRetriedOnEveryRequest() async throws {
        let clock = ManualClock(now: SystemWallClock().now())
        let pki = try TestPKI(clock: clock)
        let flaky = FlakyProvider(LocalCAProvider(ca: try pki.authority()))
        let provider = CountingProvider(flaky)
        let manager = CertificateManager(provider: provider, clock: clock, random: { 0.5 })
        let id = pki.id("a", "b")
        flaky.failing = true
        await #expect(throws: IdentityError.self) { _ = try await manager.certificate(for: id) }
        #expect(provider.fetches == 1)
        // Within the backoff (attempt 1: 0.5 s) a request fails at once and says why.
        await expectIdentityError(.unavailable, containing: "next attempt in 1 s") {
            _ = try await manager.certificate(for: id)
        }
        #expect(provider.fetches == 1, "the CA was not asked again")
        clock.advance(by: 0.5)
        await #expect(throws: IdentityError.self) { _ = try await manager.certificate(for: id) }
        #expect(provider.fetches == 2)
        #expect(await manager.status().first?.consecutiveFailures == 2)
        // Recovery resets the backoff.
        flaky.failing = false
        clock.advance(by: 1)
        _ = try await manager.certificate(for: id)
        #expect(await manager.status().first?.consecutiveFailures == 0)
    }

    @Test func boundsConcurrentRequestsToTheCA() async throws {
        let pki = try TestPKI()
        let provider = CountingProvider(LocalCAProvider(ca: try pki.authority()), delayNanoseconds: 20_000_000)
        let manager = CertificateManager(provider: provider, clock: ManualClock(now: pki.clock.now()), maximumConcurrentFetches: 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<6 { group.addTask { _ = try await manager.certificate(for: pki.id("ns", "sa\(i)")) } }
            try await group.waitForAll()
        }
        #expect(provider.fetches == 6)
        #expect(provider.maximumConcurrent == 2)
    }

    @Test func forgettingAnIdentityStopsItsRenewal() async throws {
        let clock = ManualClock(now: SystemWallClock().now())
        let pki = try TestPKI(clock: clock)
        let provider = CountingProvider(LocalCAProvider(ca: try pki.authority()))
        let manager = CertificateManager(provider: provider, clock: clock)
        let id = pki.id("a", "b")
        _ = try await manager.certificate(for: id)
        try await clock.waitForSleepers(1)
        await manager.forget(id)
        try await waitUntil("the renewal task has stopped") { clock.sleeperCount == 0 }
        clock.advance(by: 86400 * 2)
        #expect(provider.fetches == 1)
        #expect(await manager.status().isEmpty)
    }
}

// MARK: - Test providers

final class CountingProvider: CertificateProvider {
    private let inner: any CertificateProvider
    private let delay: UInt64
    private let state = NIOLockedValueBox((fetches: 0, current: 0, maximum: 0))

    init(_ inner: any CertificateProvider, delayNanoseconds: UInt64 = 0) {
        self.inner = inner
        self.delay = delayNanoseconds
    }

    var fetches: Int { state.withLockedValue { $0.fetches } }
    var maximumConcurrent: Int { state.withLockedValue { $0.maximum } }

    func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        state.withLockedValue {
            $0.fetches += 1
            $0.current += 1
            $0.maximum = max($0.maximum, $0.current)
        }
        defer { state.withLockedValue { $0.current -= 1 } }
        if delay > 0 { try await Task.sleep(nanoseconds: delay) }
        return try await inner.fetchCertificate(for: identity)
    }
}

final class FlakyProvider: CertificateProvider {
    private let inner: any CertificateProvider
    private let flag = NIOLockedValueBox(false)

    init(_ inner: any CertificateProvider) { self.inner = inner }

    var failing: Bool {
        get { flag.withLockedValue { $0 } }
        set { flag.withLockedValue { $0 = newValue } }
    }

    func fetchCertificate(for identity: SpiffeID) async throws -> WorkloadCertificate {
        if failing { throw IdentityError(.unavailable, "the CA is down (test)") }
        return try await inner.fetchCertificate(for: identity)
    }
}
