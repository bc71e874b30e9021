import GatehouseLimiterPolicies
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging
import Testing

@Suite("RedisRateLimiter under concurrency", .timeLimit(.minutes(1)))
struct RedisRateLimiterConcurrencyTests {
    /// 2,000 concurrent checks from two clients (two "processes") against one key; returns how many were allowed
    /// and the Redis-clock microseconds from before the first to after the last.
    private func concurrentChecks(
        of item: RateLimitItem,
        count: Int,
        limiter: RedisRateLimiter,
        client: RedisClient,
        otherLimiter: RedisRateLimiter
    ) async throws -> (allowed: Int, start: Int, end: Int) {
        let start = try await client.serverMicroseconds()
        let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<count {
                let chosen = index.isMultiple(of: 2) ? limiter : otherLimiter
                group.addTask { try await chosen.check([item]).allowed }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        let end = try await client.serverMicroseconds()
        return (allowed, start, end)
    }

    @Test func concurrentChecksShareScriptCallsAndEachIsDecidedOnItsOwn() async throws {
        try await withRateLimiter(poolSize: 2) { limiter, client, _ in
            _ = try await client.send(["CONFIG", "RESETSTAT"])
            // 500 concurrent requests of two items each: a key of their own (limit 1, cost 1) and one shared
            // key (limit 300): each is all or nothing, in order, exactly as if it had been its own call.
            let answers = try await withThrowingTaskGroup(of: RateLimitDecision.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        try await limiter.check([
                            RateLimitItem(key: "gh:{batch}:own:\(index % 250)", limit: 1, period: .seconds(3600)),
                            RateLimitItem(key: "gh:{batch}:shared", limit: 300, period: .seconds(3600)),
                        ])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            // 250 own keys admit one request each; the shared key had room for 300, so exactly 250 pass and
            // the shared key was charged only for those.
            #expect(answers.filter(\.allowed).count == 250)
            let shared = try await limiter.peek([RateLimitItem(key: "gh:{batch}:shared", limit: 300, period: .seconds(3600))])
            #expect(shared.items[0].remaining == 300 - 250 - 1, "peek reports what a check would leave")

            let calls = try await client.commandCalls("evalsha")
            #expect(calls > 0 && calls < 250, "500 concurrent requests went to Redis in \(calls) script calls")
        }
    }

    @Test(arguments: RateLimitAlgorithm.allCases)
    func aHotKeyIsReadAndWrittenOncePerScriptCall(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter(poolSize: 1) { limiter, client, _ in
            let item = RateLimitItem(key: "gh:{hot}:\(algorithm.rawValue)", algorithm: algorithm, limit: 1_000, period: .seconds(86_400))
            _ = try await client.send(["CONFIG", "RESETSTAT"])
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<400 {
                    group.addTask { try await limiter.check([item]).allowed }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 400)
            let scripts = try await client.commandCalls("evalsha")
            let writes = try await client.commandCalls(algorithm == .gcra ? "set" : "hset")
            let reads = try await client.commandCalls(algorithm == .gcra ? "get" : "hmget")
            #expect(scripts < 400, "400 concurrent checks went to Redis in \(scripts) script calls")
            #expect(writes == scripts, "one write of the hot key per script call, not per check")
            #expect(reads == scripts, "one read of the hot key per script call, not per check")
            // The charges of every batch add up: the state written last is that of 400 checks.
            let after = try await limiter.peek([item])
            #expect(after.items[0].remaining == 1_000 - 400 - 1, "peek reports what a check would leave")
            let ttl = try await client.send(["PTTL", item.key]).int ?? -2
            #expect(ttl > 0, "the key written with its final state still expires")
        }
    }

    @Test(arguments: [RateLimitAlgorithm.gcra, .tokenBucket, .fixedWindow])
    func admitsExactlyTheLimitFromTwoClients(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter(poolSize: 4) { limiter, client, server in
            try await withRunningClient(port: server.port) { otherClient in
                let other = RedisRateLimiter(client: otherClient, logger: Logger(label: "gatehouse.limiter.test.other"))
                let period = 60_000_000
                let item = RateLimitItem(
                    key: "gh:{exact}:\(algorithm.rawValue)",
                    algorithm: algorithm,
                    limit: 100,
                    period: .microseconds(period)
                )
                let run = try await self.concurrentChecks(
                    of: item,
                    count: 2_000,
                    limiter: limiter,
                    client: client,
                    otherLimiter: other
                )
                // The budget only grows with time: by one unit per 600 ms for the buckets, by a new window for
                // the fixed window. Each run normally ends well within that, and then the count is exact.
                let extra: Int
                switch algorithm {
                case .fixedWindow:
                    extra = run.start / period == run.end / period ? 0 : 100
                default:
                    extra = (run.end - run.start) / (period / 100)
                }
                #expect(run.allowed >= 100)
                #expect(run.allowed <= 100 + extra)
                if extra == 0 {
                    #expect(run.allowed == 100)
                    let after = try await limiter.peek([item])
                    #expect(!after.allowed)
                    #expect(after.items[0].remaining == 0)
                    #expect(after.items[0].retryAfter > .zero)
                }
            }
        }
    }

    @Test func slidingWindowAdmitsExactlyTheLimitOnAFreshKeyWithinOneWindow() async throws {
        try await withRateLimiter(poolSize: 4) { limiter, client, server in
            try await withRunningClient(port: server.port) { otherClient in
                let other = RedisRateLimiter(client: otherClient, logger: Logger(label: "gatehouse.limiter.test.other"))
                let period = 60_000_000
                let item = RateLimitItem(
                    key: "gh:{exact}:sliding",
                    algorithm: .slidingWindow,
                    limit: 100,
                    period: .microseconds(period)
                )
                let run = try await self.concurrentChecks(
                    of: item,
                    count: 2_000,
                    limiter: limiter,
                    client: client,
                    otherLimiter: other
                )
                #expect(run.allowed >= 100)
                #expect(run.allowed <= 2 * 100 - 1)
                if run.start / period == run.end / period {
                    #expect(run.allowed == 100)
                }
            }
        }
    }

    /// The documented worst case: a window's whole budget packed at its end, then a burst late in the next
    /// window. Everything happens within less than one period, which must see fewer than `2 × limit`.
    @Test func slidingWindowStaysBelowTwiceTheLimitInItsWorstCase() async throws {
        try await withRateLimiter(poolSize: 4) { limiter, client, _ in
            let limit = 10
            let period = 400_000
            let item = RateLimitItem(
                key: "gh:{worst}:sliding",
                algorithm: .slidingWindow,
                limit: limit,
                period: .microseconds(period)
            )
            let burst = { () async throws -> Int in
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for _ in 0..<(3 * limit) {
                        group.addTask { try await limiter.check([item]).allowed }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
            // Start 40 ms before a window ends (skipping a window when that moment is too close).
            var now = try await client.serverMicroseconds()
            var windowEnd = (now / period + 1) * period
            if windowEnd - now < 60_000 {
                windowEnd += period
            }
            try await Task.sleep(for: .microseconds(windowEnd - 40_000 - now))
            let start = try await client.serverMicroseconds()
            let first = try await burst()
            // Then 80% into the next window, where 20% of the packed requests have slid out of the estimate.
            now = try await client.serverMicroseconds()
            try await Task.sleep(for: .microseconds(max(0, windowEnd + period * 8 / 10 - now)))
            let second = try await burst()
            let end = try await client.serverMicroseconds()

            #expect(first >= 1)
            if end - start < period {
                #expect(first + second <= 2 * limit - 1)
            }
        }
    }
}
