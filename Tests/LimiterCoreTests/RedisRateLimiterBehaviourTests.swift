import GatehouseLimiterPolicies
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Testing

@Suite("RedisRateLimiter decisions", .timeLimit(.minutes(1)))
struct RedisRateLimiterBehaviourTests {
    @Test(arguments: allAlgorithms)
    func chargesNothingWhenAnotherItemDenies(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            let open = RateLimitItem(
                key: "gh:{aon-\(algorithm.rawValue)}:open",
                algorithm: algorithm,
                limit: 10,
                period: .seconds(60)
            )
            let exhausted = RateLimitItem(
                key: "gh:{aon-\(algorithm.rawValue)}:exhausted",
                algorithm: .fixedWindow,
                limit: 1,
                period: .seconds(60)
            )
            let first = try await limiter.check([exhausted])
            #expect(first.allowed)
            let before = try await limiter.peek([open])

            let decision = try await limiter.check([open, exhausted])
            #expect(!decision.allowed)
            #expect(decision.decidingIndex == 1)
            #expect(decision.items[0].allowed)
            #expect(decision.items[0].remaining == 10)
            #expect(!decision.items[1].allowed)
            #expect(decision.items[1].retryAfter > .zero)

            let after = try await limiter.peek([open])
            #expect(after.allowed == before.allowed)
            #expect(after.items[0].remaining == before.items[0].remaining)
            #expect(after.items[0].remaining == 9)
        }
    }

    @Test func reportsTheTightestItemWhenAllAllow() async throws {
        try await withRateLimiter { limiter, _, _ in
            let items = [
                RateLimitItem(key: "gh:{tight}:a", limit: 100, period: .seconds(60)),
                RateLimitItem(key: "gh:{tight}:b", algorithm: .tokenBucket, limit: 3, period: .seconds(60)),
                RateLimitItem(key: "gh:{tight}:c", algorithm: .slidingWindow, limit: 50, period: .seconds(60)),
            ]
            let decision = try await limiter.check(items)
            #expect(decision.allowed)
            #expect(decision.decidingIndex == 1)
            #expect(decision.deciding.remaining == 2)
            #expect(decision.items.map(\.remaining) == [99, 2, 49])
            #expect(decision.items.map(\.limit) == [100, 3, 50])
        }
    }

    @Test(arguments: allAlgorithms)
    func peekNeverCharges(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, client, _ in
            let item = RateLimitItem(key: "gh:{peek}:\(algorithm.rawValue)", algorithm: algorithm, limit: 5, period: .seconds(60))
            for _ in 0..<20 {
                let peeked = try await limiter.peek([item])
                #expect(peeked.allowed)
                #expect(peeked.items[0].remaining == 4)
            }
            let exists = try await client.send(["EXISTS", item.key]).int
            #expect(exists == 0)

            let checked = try await limiter.check([item])
            #expect(checked.items[0].remaining == 4)
            let peekedAfter = try await limiter.peek([item])
            #expect(peekedAfter.items[0].remaining == 3)
            let checkedAfter = try await limiter.check([item])
            #expect(checkedAfter.items[0].remaining == 3)
        }
    }

    @Test(arguments: allAlgorithms)
    func deniesWhenExhaustedAndAllowsAgainAfterRetryAfter(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            let item = RateLimitItem(key: "gh:{refill}:\(algorithm.rawValue)", algorithm: algorithm, limit: 5, period: .seconds(1))
            for expected in (0..<5).reversed() {
                let decision = try await limiter.check([item])
                #expect(decision.allowed)
                #expect(decision.deciding.retryAfter == .zero)
                #expect(decision.deciding.resetAfter > .zero)
                // The buckets refill continuously, so a slow run may already have earned a unit back.
                #expect(decision.deciding.remaining >= expected)
            }
            var denied = try await limiter.check([item])
            while denied.allowed {
                denied = try await limiter.check([item])
            }
            let retryAfter = denied.deciding.retryAfter
            #expect(retryAfter > .zero)
            #expect(retryAfter <= .milliseconds(1_200))
            #expect(denied.deciding.remaining == 0)

            try await Task.sleep(for: retryAfter + .milliseconds(20))
            let allowed = try await limiter.check([item])
            #expect(allowed.allowed)
        }
    }

    @Test(arguments: [RateLimitAlgorithm.gcra, .tokenBucket])
    func admitsExactlyTheBurstWithFractionalEmissionIntervals(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            // 3 per 10 seconds: one unit every 3,333,333.33 µs.
            let item = RateLimitItem(key: "gh:{third}:\(algorithm.rawValue)", algorithm: algorithm, limit: 3, period: .seconds(10))
            var remaining: [Int] = []
            for _ in 0..<3 {
                let decision = try await limiter.check([item])
                #expect(decision.allowed)
                remaining.append(decision.deciding.remaining)
            }
            #expect(remaining == [2, 1, 0])
            let denied = try await limiter.check([item])
            #expect(!denied.allowed)
            #expect(denied.deciding.retryAfter > .zero)
            #expect(denied.deciding.retryAfter <= .milliseconds(3_334))
        }
    }

    // An hour-long period: a fixed window's key expires at its aligned window end, and a check in the last
    // milliseconds of a short window could see it gone before PTTL runs on a busy machine.
    @Test(arguments: [
        (RateLimitAlgorithm.gcra, Duration.seconds(3600)),
        (.tokenBucket, .seconds(3600)),
        (.fixedWindow, .seconds(3600)),
        (.slidingWindow, .seconds(7200)),
    ])
    func givesEveryWrittenKeyATimeToLive(algorithm: RateLimitAlgorithm, maximum: Duration) async throws {
        try await withRateLimiter { limiter, client, _ in
            let item = RateLimitItem(key: "gh:{ttl}:\(algorithm.rawValue)", algorithm: algorithm, limit: 10, period: .seconds(3600))
            _ = try await limiter.check([item])
            let ttl = try #require(try await client.timeToLiveMilliseconds(item.key))
            #expect(ttl > 0)
            #expect(.milliseconds(ttl) <= maximum)
        }
    }

    @Test func scalesTheTimeToLiveOfBucketsWithTheirFill() async throws {
        try await withRateLimiter { limiter, client, _ in
            let gcra = RateLimitItem(key: "gh:{ttl-fill}:gcra", limit: 10, period: .seconds(100))
            let bucket = RateLimitItem(key: "gh:{ttl-fill}:bucket", algorithm: .tokenBucket, limit: 10, period: .seconds(100))
            let decision = try await limiter.check([gcra, bucket])
            #expect(decision.allowed)
            // One unit used of ten per 100 seconds: the state is fresh again after 10 seconds.
            #expect(decision.items.allSatisfy { $0.resetAfter == .seconds(10) })
            for key in [gcra.key, bucket.key] {
                let ttl = try #require(try await client.timeToLiveMilliseconds(key))
                #expect(ttl > 5_000)
                #expect(ttl <= 10_000)
            }
        }
    }

    @Test func resetForgetsAKey() async throws {
        try await withRateLimiter { limiter, client, _ in
            let item = RateLimitItem(key: "gh:{reset}:gcra", limit: 1, period: .seconds(60))
            let first = try await limiter.check([item])
            #expect(first.allowed)
            let second = try await limiter.check([item])
            #expect(!second.allowed)
            try await limiter.reset(key: item.key)
            let exists = try await client.send(["EXISTS", item.key]).int
            #expect(exists == 0)
            let third = try await limiter.check([item])
            #expect(third.allowed)
        }
    }

    @Test func keepsWorkingAfterScriptFlush() async throws {
        try await withRateLimiter { limiter, client, _ in
            let item = RateLimitItem(key: "gh:{flush}:gcra", limit: 10, period: .seconds(60))
            let before = try await limiter.check([item])
            #expect(before.items[0].remaining == 9)
            _ = try await client.send(["SCRIPT", "FLUSH"])
            let after = try await limiter.check([item])
            #expect(after.allowed)
            #expect(after.items[0].remaining == 8)
        }
    }

    @Test func chargesTheCostAndAsksFreeOfChargeWithCostZero() async throws {
        try await withRateLimiter { limiter, client, _ in
            for algorithm in allAlgorithms {
                let key = "gh:{cost}:\(algorithm.rawValue)"
                let heavy = RateLimitItem(key: key, algorithm: algorithm, limit: 10, period: .seconds(60), cost: 4)
                let first = try await limiter.check([heavy])
                #expect(first.items[0].remaining == 6)
                let second = try await limiter.check([heavy])
                #expect(second.items[0].remaining == 2)
                let third = try await limiter.check([heavy])
                #expect(!third.allowed)
                #expect(third.items[0].remaining == 2)

                let free = RateLimitItem(key: key, algorithm: algorithm, limit: 10, period: .seconds(60), cost: 0)
                let asked = try await limiter.check([free])
                #expect(asked.allowed)
                #expect(asked.items[0].remaining == 2)
            }
            let freshFree = RateLimitItem(key: "gh:{cost}:fresh", limit: 10, period: .seconds(60), cost: 0)
            _ = try await limiter.check([freshFree])
            let exists = try await client.send(["EXISTS", freshFree.key]).int
            #expect(exists == 0)
        }
    }
}
