import GatehouseLimiterPolicies
import LimiterCore
import Testing

@Suite struct LocalGCRATests {
    let start = ContinuousClock.now
    let policy = RateLimitPolicy(name: "public", limit: 10, period: .seconds(1), key: [.ip])

    @Test func eachReplicaAllowsItsShareThenDeniesWithAnExactRetryAfter() {
        var gcra = LocalGCRA()
        var decisions: [LocalGCRA.Decision] = []
        for _ in 0..<6 {
            decisions.append(gcra.check(policy: self.policy, key: "ip:1", cost: 1, replicas: 2, now: self.start))
        }
        #expect(decisions.prefix(5).map(\.allowed) == [true, true, true, true, true])
        #expect(decisions.map(\.remaining).prefix(5) == [4, 3, 2, 1, 0])
        let denied = decisions[5]
        #expect(!denied.allowed)
        #expect(denied.limit == 5)
        #expect(denied.retryAfter == .milliseconds(200))

        let afterRetry = gcra.check(policy: self.policy, key: "ip:1", cost: 1, replicas: 2, now: self.start + .milliseconds(200))
        #expect(afterRetry.allowed)
    }

    @Test func keysAreIndependent() {
        var gcra = LocalGCRA()
        for _ in 0..<10 { _ = gcra.check(policy: self.policy, key: "ip:1", cost: 1, replicas: 1, now: self.start) }
        let sameKey = gcra.check(policy: self.policy, key: "ip:1", cost: 1, replicas: 1, now: self.start)
        let otherKey = gcra.check(policy: self.policy, key: "ip:2", cost: 1, replicas: 1, now: self.start)
        #expect(!sameKey.allowed)
        #expect(otherKey.allowed)
    }

    /// Two policies of one request with the same key value (both `[sub]`, say) are two counters, as in Redis.
    @Test func policiesWithTheSameKeyKeepSeparateCounters() {
        var gcra = LocalGCRA()
        let strict = RateLimitPolicy(name: "strict", limit: 2, period: .seconds(60), key: [.sub])
        let roomy = RateLimitPolicy(name: "roomy", limit: 100, period: .seconds(60), key: [.sub])
        var strictAllowed: [Bool] = []
        for _ in 0..<3 {
            strictAllowed.append(gcra.check(policy: strict, key: "alice", cost: 1, replicas: 1, now: self.start).allowed)
            #expect(gcra.check(policy: roomy, key: "alice", cost: 1, replicas: 1, now: self.start).allowed)
        }
        #expect(strictAllowed == [true, true, false], "the strict policy allows its own 2, whatever the roomy one spent")
        #expect(gcra.check(policy: roomy, key: "alice", cost: 1, replicas: 1, now: self.start).remaining == 96)
    }
}
