import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// The `limiter` executable while its Redis goes away and comes back.
///
/// A child process: the test reads its own `/metrics` (breaker state, fallbacks, the RPC latency histogram),
/// which in the test process would be shared with every other service there.
@Suite struct LimiterRedisOutageTests {
    static let policies = """
        replicas: 2
        policies:
          - {name: open, limit: 1, period: 1h, key: [ip], on_redis_failure: allow}
          - {name: closed, limit: 100, period: 1h, key: [ip], on_redis_failure: deny}
          - {name: local, limit: 4, period: 1h, key: [ip], on_redis_failure: local}
        """

    @Test func fallbacksDecideWithinTheTimeoutWhileRedisIsDownAndRedisDecidesAgainOnceBack() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try folder.write("policies.yaml", Self.policies)
        // The default 50 ms Redis command timeout (the harness sets a longer one), and a 200 ms connect timeout.
        let limiter = try await LimiterProcess(
            folder: folder, redisPort: redis.port,
            environment: ["LIMITER_REDIS_COMMAND_TIMEOUT_MS": "50", "LIMITER_REDIS_CONNECT_TIMEOUT_MS": "200"]
        )
        try await limiter.withClient { client in
            let first = try await client.check(policy: "open", key: "192.0.2.1")
            #expect(first.allowed && first.source == .redis)
            redis.halt()

            var slowest = Duration.zero
            func timedCheck(_ policy: String, _ key: String) async throws -> Gatehouse_Limiter_CheckResponse {
                let start = ContinuousClock.now
                let answer = try await client.check(policy: policy, key: key)
                slowest = max(slowest, ContinuousClock.now - start)
                return answer
            }
            let open = try await timedCheck("open", "192.0.2.1")
            #expect(open.allowed && open.source == .fallbackAllow, "allow: although Redis had this key at its limit")
            let closed = try await timedCheck("closed", "192.0.2.2")
            #expect(!closed.allowed && closed.source == .fallbackDeny)
            var local: [Bool] = []
            for _ in 0..<5 {
                local.append(try await timedCheck("local", "192.0.2.3").allowed)
            }
            // The live limiters, counted in Redis before it went away (this one), not the file's 2 replicas.
            #expect(local == [true, true, true, true, false], "local: limit 4 ÷ 1 live limiter")
            let metrics = try limiter.metrics()
            // The limiter answered every check within 250 ms by its own clock (the 50 ms Redis timeout, then
            // the open breaker: no wait at all). The caller's view adds RPC and scheduling in a test process
            // that may be running other tests, so it only has to show that no call waited on Redis itself.
            let checks = prometheusSample(metrics, "gatehouse_rpc_server_duration_seconds_count", ["method": "limiter.Check"])
            let within250ms = prometheusSample(metrics, "gatehouse_rpc_server_duration_seconds_bucket", ["method": "limiter.Check", "le": "0.25"])
            #expect(checks == 8 && within250ms == 8, "checks answered by the limiter within 250 ms: \(within250ms ?? 0) of \(checks ?? 0)")
            #expect(slowest < .seconds(2), "slowest call while Redis was down, as the caller saw it: \(slowest)")
            #expect(prometheusSample(metrics, "gatehouse_limiter_redis_breaker_state") == 1)
            #expect(prometheusSample(metrics, "gatehouse_limiter_fallback_decisions_total", ["policy": "closed", "mode": "deny"]) == 1)
            #expect(prometheusSample(metrics, "gatehouse_limiter_fallback_decisions_total", ["policy": "local", "mode": "local"]) == 5)

            // A restarted Redis has an empty script cache: the limiter reloads the script unseen.
            try await redis.restart()
            let restarted = ContinuousClock.now
            var source = Gatehouse_Limiter_DecisionSource.fallbackAllow
            while source != .redis, ContinuousClock.now - restarted < .seconds(5) {
                source = try await client.check(policy: "open", key: "192.0.2.9").source
                if source != .redis { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(source == .redis)
            // About a second on a quiet machine (the breaker's open time, then one probe); loose for busy ones.
            #expect(ContinuousClock.now - restarted < .seconds(3), "decisions return to Redis within seconds")
            #expect(prometheusSample(try limiter.metrics(), "gatehouse_limiter_redis_breaker_state") == 0)
        }
    }
}
