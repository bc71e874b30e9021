import GatehouseLimiterPolicies
import GatehouseLimiterAPI
import GatehouseRedis
import GatehouseRPC
import GatehouseTestSupport
import LimiterCore
import Logging
import Testing

@Suite struct LimiterDeciderTests {
    static let catalog = try! PolicyCatalog(
        yaml: """
            replicas: 1
            policies:
              - {name: strict, limit: 3, period: 1m, key: [ip]}
              - {name: roomy, limit: 10, period: 1m, key: [ip]}
              - {name: single, limit: 1, period: 1m, key: [ip]}
              - {name: watched, limit: 1, period: 1m, key: [ip], shadow: true}
              - {name: open, limit: 1, period: 1m, key: [ip], on_redis_failure: allow}
              - {name: closed, limit: 100, period: 1m, key: [ip], on_redis_failure: deny}
              - {name: local, limit: 2, period: 1m, key: [ip], on_redis_failure: local}
            """,
        source: "test-policies.yaml"
    )

    func request(_ caller: String, _ policies: String...) -> Gatehouse_Limiter_CheckRequest {
        var request = Gatehouse_Limiter_CheckRequest()
        request.caller = caller
        request.items = policies.map { policy in
            var item = Gatehouse_Limiter_CheckItem()
            item.policy = policy
            item.key = caller
            return item
        }
        return request
    }

    /// A decider over a fresh redis-server. Only the outage test wants a short Redis timeout; the others
    /// must not fall back just because parallel tests keep the machine busy.
    func withDecider(
        redisTimeout: Duration = .seconds(5),
        _ body: (LimiterDecider, RedisServerProcess, RedisClient) async throws -> Void
    ) async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let client = RedisClient(
            configuration: RedisConfiguration(
                port: server.port,
                connectTimeout: redisTimeout,
                commandTimeout: redisTimeout
            ),
            logger: Logger(label: "gatehouse.limiter.test")
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            let decider = LimiterDecider(
                catalog: Self.catalog,
                limiter: RedisRateLimiter(client: client, logger: Logger(label: "gatehouse.limiter.test")),
                breaker: CircuitBreaker(failureThreshold: 2, openDuration: .milliseconds(300)),
                logger: Logger(label: "gatehouse.limiter.test")
            )
            try await body(decider, server, client)
        }
    }

    @Test func allowsUpToTheLimitThenDeniesAndAnswersRepeatsFromTheDenialCache() async throws {
        try await self.withDecider { decider, _, _ in
            for remaining in [2, 1, 0] {
                let answer = try await decider.check(self.request("203.0.113.1", "strict"))
                #expect(answer.allowed)
                #expect(answer.source == .redis)
                #expect(answer.statuses[0].remaining == UInt32(remaining))
            }
            let denied = try await decider.check(self.request("203.0.113.1", "strict"))
            #expect(!denied.allowed)
            #expect(denied.source == .redis)
            #expect(denied.statuses[0].retryAfterMs > 0)
            #expect(denied.statuses[0].windowSeconds == 60)

            let repeated = try await decider.check(self.request("203.0.113.1", "strict"))
            #expect(!repeated.allowed)
            #expect(repeated.source == .denialCache)
            #expect(repeated.statuses[0].retryAfterMs > 0)
            // The whole budget comes back later than the next unit; the cache reports Redis' reset, counted down.
            #expect(repeated.statuses[0].resetMs > repeated.statuses[0].retryAfterMs)
            #expect(repeated.statuses[0].resetMs <= denied.statuses[0].resetMs && repeated.statuses[0].resetMs + 1_000 > denied.statuses[0].resetMs)

            let otherCaller = try await decider.check(self.request("203.0.113.2", "strict"))
            #expect(otherCaller.allowed)
        }
    }

    @Test func aBatchGoesToRedisInOneScriptCallAndEachRequestIsDecidedOnItsOwn() async throws {
        try await self.withDecider { decider, _, client in
            var batch = Gatehouse_Limiter_CheckBatchRequest()
            // Ten requests of one caller against `strict` (3 a minute), one of another caller against two
            // policies, one naming an unknown policy, and one with a shadow policy.
            batch.requests = Array(repeating: self.request("203.0.113.50", "strict"), count: 10)
                + [self.request("203.0.113.51", "roomy", "single"), self.request("203.0.113.52", "nope"), self.request("203.0.113.53", "watched")]
            let answer = try await decider.checkBatch(batch)
            let responses = answer.outcomes.map { outcome -> Gatehouse_Limiter_CheckResponse? in
                if case .response(let response) = outcome.result { response } else { nil }
            }
            #expect(responses.count == 13)
            #expect(responses[0..<10].filter { $0?.allowed == true }.count == 3, "exactly the limit, as ten single checks would")
            #expect(responses[0..<10].allSatisfy { $0?.source == .redis })
            #expect(responses[10]?.allowed == true && responses[10]?.statuses.count == 2)
            #expect(responses[12]?.allowed == true && responses[12]?.statuses[0].shadow == true)
            guard case .error(let error) = answer.outcomes[11].result else {
                Issue.record("the request with an unknown policy has an error outcome: \(answer.outcomes[11])")
                return
            }
            #expect(error.code == UInt32(RPCError.Code.invalidArgument.rawValue) && error.message.contains("nope"))
            // The eleven requests with no shadow policy took one script call; the shadow one (nothing to
            // enforce) its own.
            #expect(try await client.commandCalls("evalsha") == 2)

            // The batch's denials are remembered like a single check's.
            let repeated = try await decider.check(self.request("203.0.113.50", "strict"))
            #expect(!repeated.allowed && repeated.source == .denialCache)
        }
    }

    @Test func aRequestDeniedByItsSecondPolicyLeavesTheFirstUncharged() async throws {
        try await self.withDecider { decider, _, _ in
            let first = try await decider.check(self.request("198.51.100.7", "roomy", "single"))
            #expect(first.allowed)
            let second = try await decider.check(self.request("198.51.100.7", "roomy", "single"))
            #expect(!second.allowed)
            #expect(second.decidingIndex == 1)
            var peek = self.request("198.51.100.7", "roomy")
            peek.items[0].cost = 0
            let roomy = try await decider.peek(peek)
            #expect(roomy.statuses[0].remaining == 9, "only the first, allowed request was charged")
        }
    }

    @Test func aShadowPolicyCountsButNeverDenies() async throws {
        try await self.withDecider { decider, _, _ in
            _ = try await decider.check(self.request("192.0.2.9", "watched"))
            let second = try await decider.check(self.request("192.0.2.9", "watched"))
            #expect(second.allowed)
            #expect(second.statuses[0].shadow)
            #expect(second.statuses[0].remaining == 0)
        }
    }

    /// A counter is named by its policy and key value alone (`gh:<policy>:{<key value>}`): callers that send
    /// the same key share it, as a `[route]` policy's callers must, and `caller` plays no part.
    @Test func aCounterIsThePolicyAndKeyWhoeverTheCaller() async throws {
        try await self.withDecider { decider, _, client in
            func check(caller: String, key: String) async throws -> Bool {
                var request = self.request(caller, "single")
                request.items[0].key = key
                return try await decider.check(request).allowed
            }
            #expect(try await check(caller: "alice", key: "/v1/{collection}"))
            #expect(!(try await check(caller: "bob", key: "/v1/{collection}")), "bob's request charges the counter alice's did")
            #expect(try await check(caller: "bob", key: "/v1/{collection}/{id}"), "another key value is another counter")
            #expect(try await client.send(["EXISTS", "gh:single:{/v1/{collection}}"]) == .integer(1))
            #expect(try await client.send(["EXISTS", "gh:single:{/v1/{collection}/{id}}"]) == .integer(1))

            var reset = Gatehouse_Limiter_ResetRequest()
            reset.caller = "someone else"
            reset.policy = "single"
            reset.key = "/v1/{collection}"
            try await decider.reset(reset)
            #expect(try await client.send(["EXISTS", "gh:single:{/v1/{collection}}"]) == .integer(0), "a reset names the counter by policy and key")
        }
    }

    @Test func anUnknownPolicyIsNamedInTheError() async throws {
        try await self.withDecider { decider, _, _ in
            let error = await #expect(throws: RPCError.self) {
                try await decider.check(self.request("192.0.2.1", "nonexistent"))
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("nonexistent") == true)
        }
    }

    @Test func aBatchWhoseScriptCallFailsFollowsEachPolicysFallback() async throws {
        try await self.withDecider(redisTimeout: .milliseconds(100)) { decider, server, _ in
            server.halt()
            var batch = Gatehouse_Limiter_CheckBatchRequest()
            batch.requests = [self.request("192.0.2.60", "open"), self.request("192.0.2.60", "closed")]
                + Array(repeating: self.request("192.0.2.61", "local"), count: 3)
            let start = ContinuousClock.now
            let answer = try await decider.checkBatch(batch)
            #expect(ContinuousClock.now - start < .seconds(1), "one failed script call, not one timeout per request")
            let responses = answer.outcomes.compactMap { outcome -> Gatehouse_Limiter_CheckResponse? in
                if case .response(let response) = outcome.result { response } else { nil }
            }
            #expect(responses.map(\.source) == [.fallbackAllow, .fallbackDeny, .fallbackLocal, .fallbackLocal, .fallbackLocal])
            #expect(responses.map(\.allowed) == [true, false, true, true, false], "local: 2 a minute on one replica")
        }
    }

    @Test func withRedisDownEachPolicyFollowsItsFallbackAndRedisDecidesAgainOnceBack() async throws {
        try await self.withDecider(redisTimeout: .milliseconds(100)) { decider, server, _ in
            _ = try await decider.check(self.request("192.0.2.50", "open"))
            server.halt()

            let start = ContinuousClock.now
            let open = try await decider.check(self.request("192.0.2.50", "open"))
            #expect(open.allowed, "allow: even though Redis had this key at its limit")
            #expect(open.source == .fallbackAllow)
            #expect(ContinuousClock.now - start < .seconds(1), "no call waits much longer than the Redis timeout")

            let closed = try await decider.check(self.request("192.0.2.50", "closed"))
            #expect(!closed.allowed)
            #expect(closed.source == .fallbackDeny)

            var local: [Bool] = []
            for _ in 0..<3 {
                local.append(try await decider.check(self.request("192.0.2.51", "local")).allowed)
            }
            #expect(local == [true, true, false])
            #expect(decider.breakerState == .open)

            try await server.restart()
            var backOnRedis = false
            let restarted = ContinuousClock.now
            while !backOnRedis, ContinuousClock.now - restarted < .seconds(3) {
                backOnRedis = try await decider.check(self.request("192.0.2.52", "roomy")).source == .redis
                if !backOnRedis { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(backOnRedis)
            #expect(ContinuousClock.now - restarted < .seconds(2), "decisions return to Redis within about a second")
        }
    }
}
