import GatehouseLimiterAPI
import Testing

@Suite struct DenialCacheTests {
    let start = ContinuousClock.now
    var status: PolicyStatusSnapshot { PolicyStatusSnapshot(limit: 20, windowSeconds: 60, resetsAt: self.start + .seconds(60)) }

    @Test func remembersADenialUntilItsRetryAfterPasses() {
        var cache = DenialCache()
        cache.remember(policy: "public", key: "ip:1", until: self.start + .seconds(2), status: self.status, now: self.start)
        #expect(cache.denial(policy: "public", key: "ip:1", now: self.start + .seconds(1))?.status == self.status)
        #expect(cache.denial(policy: "public", key: "ip:2", now: self.start + .seconds(1)) == nil)
        #expect(cache.denial(policy: "user", key: "ip:1", now: self.start + .seconds(1)) == nil)
        #expect(cache.denial(policy: "public", key: "ip:1", now: self.start + .seconds(2)) == nil)
        #expect(cache.count == 0, "an ended denial is forgotten")
    }

    @Test func staysWithinItsCapacity() {
        var cache = DenialCache(capacity: 2)
        cache.remember(policy: "p", key: "a", until: self.start + .seconds(1), status: self.status, now: self.start)
        cache.remember(policy: "p", key: "b", until: self.start + .seconds(10), status: self.status, now: self.start)
        cache.remember(policy: "p", key: "c", until: self.start + .seconds(10), status: self.status, now: self.start)
        #expect(cache.count == 2)
        #expect(cache.denial(policy: "p", key: "c", now: self.start) == nil, "full and nothing expired: not remembered")
        let later = self.start + .seconds(2)
        cache.remember(policy: "p", key: "c", until: later + .seconds(10), status: self.status, now: later)
        #expect(cache.denial(policy: "p", key: "c", now: later) != nil, "expired entries make room")
        #expect(cache.count == 2)
    }
}
