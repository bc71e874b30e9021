import Foundation
import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import LimiterCore
import Testing

/// The `limiter` executable end to end: configuration, reload, metrics, logs, shutdown.
///
/// A child process where the process is the point: its own `/metrics` (metrics are process-wide, and the
/// test process holds other services), its log, `SIGHUP` reloads, `SIGTERM` and its exit status.
@Suite struct LimiterServiceTests {
    static let policies = """
        replicas: 1
        policies:
          - {name: public, limit: 3, period: 1h, key: [ip]}
          - {name: user, limit: 5, period: 1h, key: [sub]}
          - {name: watch, limit: 2, period: 1h, key: [ip], shadow: true}
        """

    /// Redis and a limiter on `policies` in a new folder (stop the Redis when done).
    static func startLimiter(environment: [String: String] = [:]) async throws -> (RedisServerProcess, LimiterProcess) {
        let redis = try await RedisServerProcess.start()
        do {
            let folder = try TestFolder()
            try folder.write("policies.yaml", Self.policies)
            return (redis, try await LimiterProcess(folder: folder, redisPort: redis.port, environment: environment))
        } catch {
            redis.stop()
            throw error
        }
    }

    @Test func answersChecksAndExportsPerPolicyMetricsAndDenyLogs() async throws {
        let (redis, limiter) = try await Self.startLimiter()
        defer { redis.stop() }
        try await limiter.withClient { client in
            var outcomes: [Bool] = []
            for _ in 0..<5 {
                let answer = try await client.check([("public", "198.51.100.1", nil), ("watch", "198.51.100.1", nil)])
                outcomes.append(answer.allowed)
            }
            #expect(outcomes == [true, true, true, false, false])
            let denied = try await client.check(policy: "public", key: "198.51.100.1")
            #expect(!denied.allowed)
            #expect(denied.source == .denialCache, "a repeat within retry-after is answered without Redis")
            #expect(denied.statuses[0].retryAfterMs > 0)
        }
        let metrics = try limiter.metrics()
        #expect(prometheusSample(metrics, "gatehouse_limiter_decisions_total", ["policy": "public", "outcome": "allowed"]) == 3)
        #expect(prometheusSample(metrics, "gatehouse_limiter_decisions_total", ["policy": "public", "outcome": "denied"]) == 3)
        // The shadow policy would have denied the third request (limit 2) and was not consulted after
        // the enforcing policy denied.
        #expect(prometheusSample(metrics, "gatehouse_limiter_decisions_total", ["policy": "watch", "outcome": "shadow_denied"]) ?? 0 >= 1)
        // Checks 1–4 went to Redis; 5 and 6 repeat a denial and were answered from the denial cache.
        #expect(prometheusSample(metrics, "gatehouse_limiter_checks_total", ["source": "redis"]) == 4)
        #expect(prometheusSample(metrics, "gatehouse_limiter_checks_total", ["source": "denial_cache"]) == 2)
        // Each of those checks is two script requests, the enforcing item and the shadow item on its own,
        // submitted together on the connection's event loop, so they share one script call.
        #expect(prometheusSample(metrics, "gatehouse_limiter_redis_duration_seconds_count") == 4)
        #expect(prometheusSample(metrics, "gatehouse_limiter_redis_batch_size_sum") == 8)
        #expect(prometheusSample(metrics, "gatehouse_limiter_redis_breaker_state") == 0)

        let denials = limiter.process.jsonLogLines.filter { $0["msg"] as? String == "rate limit denied" }
        #expect(denials.count == 1, "one line per Redis-decided denial; repeats from the denial cache are counted, not logged")
        #expect(denials.first?["policy"] as? String == "public")
        #expect(denials.first?["key"] as? String == "gh:public:{198.51.100.1}", "the counter: policy and key value")
        #expect(limiter.process.jsonLogLines.contains { $0["msg"] as? String == "shadow policy would deny" && $0["policy"] as? String == "watch" })
    }

    /// In process (`LimiterService`, port 0): only the answers are checked.
    @Test func aBatchDecidesEachRequestOnItsOwnAndAnInvalidOneFailsAlone() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try folder.write("policies.yaml", Self.policies)
        try await withInProcessService(LimiterService.self, environment: limiterEnvironment(folder: folder, redisPort: redis.port)) { limiter in
            try await withRPCClients(ports: [try await limiter.rpcPort()], secret: serviceSecret) { clients in
                let client = clients[0]
                // Nine requests of one caller against `user` (5 per hour), one of them naming an unknown policy.
                var batch = Gatehouse_Limiter_CheckBatchRequest()
                batch.requests = (0..<9).map { index in
                    var request = Gatehouse_Limiter_CheckRequest()
                    request.caller = "alice"
                    var item = Gatehouse_Limiter_CheckItem()
                    item.policy = index == 4 ? "no-such-policy" : "user"
                    item.key = "alice"
                    request.items = [item]
                    return request
                }
                let answer = try await client.call(LimiterMethods.checkBatch, batch, timeout: .seconds(10))
                #expect(answer.outcomes.count == 9)
                let allowed = answer.outcomes.filter { if case .response(let response) = $0.result { response.allowed } else { false } }
                #expect(allowed.count == 5, "exactly the limit is allowed, whatever the order inside the batch")
                guard case .error(let error) = answer.outcomes[4].result else {
                    Issue.record("the request with an unknown policy has an error outcome: \(answer.outcomes[4])")
                    return
                }
                #expect(error.code == UInt32(RPCError.Code.invalidArgument.rawValue))
                #expect(error.message.contains("no-such-policy"))
                // The batch charged like single checks: the next one is denied.
                #expect(try await client.check(caller: "alice", policy: "user", key: "alice").allowed == false)

                let empty = await #expect(throws: RPCError.self) {
                    try await client.call(LimiterMethods.checkBatch, Gatehouse_Limiter_CheckBatchRequest(), timeout: .seconds(10))
                }
                #expect(empty?.code == .invalidArgument)
                #expect(empty?.message.contains("requests") == true)
            }
        }
    }

    @Test func reloadsOnSIGHUPAndOnFileChangeKeepsOldPoliciesOnABadFileAndDropsNoRequest() async throws {
        let (redis, limiter) = try await Self.startLimiter(environment: ["LIMITER_POLICIES_WATCH_INTERVAL_MS": "100"])
        defer { redis.stop() }
        let folder = limiter.folder
        try await limiter.withClient { client in
            // Requests keep flowing through every reload; none may fail.
            let traffic = Task {
                var failures: [String] = []
                var calls = 0
                while !Task.isCancelled {
                    calls += 1
                    do {
                        _ = try await client.check(policy: "user", key: "alice-\(calls % 50)")
                    } catch is CancellationError {
                        break
                    } catch {
                        failures.append("\(error)")
                    }
                }
                return (calls, failures)
            }

            await #expect(throws: RPCError.self) { try await client.check(policy: "extra", key: "k") }
            // SIGHUP: a new policy.
            try folder.write("policies.yaml", Self.policies + "\n  - {name: extra, limit: 1, period: 1h, key: [ip]}\n")
            limiter.process.send(signal: SIGHUP)
            try await waitUntil("the new policy answers") { (try? await client.check(policy: "extra", key: "k")) != nil }

            // A bad file: rejected with the reason logged, the old policies stay.
            try folder.write("policies.yaml", "policies:\n  - {name: public, algorithm: leaky_bucket, limit: 3, period: 1h, key: [ip]}\n")
            limiter.process.send(signal: SIGHUP)
            let rejected = try await limiter.process.waitForLog(message: "policy file rejected; the previous policies stay in force")
            #expect((rejected["problems"] as? String)?.contains("unknown algorithm \"leaky_bucket\"") == true)
            let stillThere = try await client.check(policy: "extra", key: "other")
            #expect(stillThere.allowed)

            // A file change alone (no signal) is picked up by the watch.
            try folder.write("policies.yaml", "policies:\n  - {name: user, limit: 5, period: 1h, key: [sub]}\n  - {name: only, limit: 1, period: 1h, key: [ip]}\n")
            try await waitUntil("the watched file's policy answers") { (try? await client.check(policy: "only", key: "k")) != nil }
            await #expect(throws: RPCError.self) { try await client.check(policy: "extra", key: "k") }

            traffic.cancel()
            let (calls, failures) = await traffic.value
            #expect(calls > 1, "traffic ran while the policies changed")
            #expect(failures.isEmpty, "no request may fail while policies are reloaded: \(failures)")
        }
        // The watch may see a change before the SIGHUP does, so each change is applied (or rejected) once or twice.
        let metrics = try limiter.metrics()
        #expect(prometheusSample(metrics, "gatehouse_limiter_policy_reloads_total", ["result": "rejected"]) ?? 0 >= 1)
        #expect(prometheusSample(metrics, "gatehouse_limiter_policy_reloads_total", ["result": "applied"]) ?? 0 >= 2)
        #expect(prometheusSample(metrics, "gatehouse_limiter_policies") == 2)
    }

    @Test func badConfigurationStopsTheLimiterBeforeItListensWithTheReason() async throws {
        let folder = try TestFolder()
        try folder.write("policies.yaml", "policies:\n  - {name: public, limit: -1, period: 1h, key: [ip]}\n")
        let cases: [(environment: [String: String], expected: String)] = [
            (["LIMITER_RPC_SECRET": serviceSecret, "LIMITER_POLICIES_FILE": folder.path("policies.yaml")], "policies[0].limit"),
            (["LIMITER_RPC_SECRET": serviceSecret, "LIMITER_REDIS_PROT": "1"], "did you mean 'LIMITER_REDIS_PORT'"),
            (["LIMITER_POLICIES_FILE": folder.path("policies.yaml")], "rpc.secret"),
            (["LIMITER_RPC_SECRET": serviceSecret, "LIMITER_POLICIES_FILE": folder.path("missing.yaml")], "missing.yaml"),
        ]
        for (index, testCase) in cases.enumerated() {
            let process = try ServiceProcess.start(product: "limiter", environment: testCase.environment, logPath: folder.path("bad-\(index).log"))
            let exit = try await process.waitForExit(timeout: .seconds(20))
            #expect(exit == .exited(78), "\(testCase.expected): \(process.log)")
            #expect(process.log.contains(testCase.expected), "\(process.log)")
        }
    }

    @Test func sigtermShutsDownGracefully() async throws {
        let (redis, limiter) = try await Self.startLimiter()
        defer { redis.stop() }
        // A client (an edge) that stays connected does not hold the shutdown up: its idle connections close.
        try await limiter.withClient { client in
            let answer = try await client.check(policy: "public", key: "k")
            #expect(answer.allowed)
            let start = ContinuousClock.now
            limiter.process.send(signal: SIGTERM)
            let exit = try await limiter.process.waitForExit(timeout: .seconds(10))
            #expect(exit == .exited(0))
            #expect(ContinuousClock.now - start < .seconds(3), "the limiter stopped within 3 s with a client connected")
        }
    }
}

/// Polls `condition` every 20 ms until it holds.
/// - Throws: When it does not hold within `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}
