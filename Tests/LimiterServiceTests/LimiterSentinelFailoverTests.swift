import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import Synchronization
import Testing

/// The `limiter` executable in sentinel mode (configured by environment alone) while its Redis primary is killed.
@Suite(.timeLimit(.minutes(2)))
struct LimiterSentinelFailoverTests {
    @Test func decisionsReturnToRedisOnThePromotedReplicaAfterThePrimaryIsKilled() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        let folder = try TestFolder()
        try folder.write(
            "policies.yaml",
            """
            replicas: 1
            policies:
              - {name: steady, limit: 1000000, period: 1h, key: [ip], on_redis_failure: deny}
            """
        )
        let limiter = try await LimiterProcess(
            folder: folder,
            redisPort: 0,
            // A command timeout above the limiter's 50 ms: on a loaded machine a slow answer of a healthy primary
            // would otherwise count as a failed decision after the recovery, which is not what this test is about.
            environment: group.environment(prefix: "LIMITER").merging(["LIMITER_REDIS_COMMAND_TIMEOUT_MS": "1000"]) { $1 }
        )
        try await limiter.withClient { client in
            let decisions = DecisionLog()
            try await withThrowingTaskGroup(of: Void.self) { callers in
                // Four callers deciding without pause, as edges under load would.
                for caller in 0..<4 {
                    callers.addTask {
                        var request = 0
                        while !Task.isCancelled {
                            request += 1
                            let answer = try? await client.check(policy: "steady", key: "192.0.2.\(caller)", timeout: .seconds(5))
                            decisions.record(answer.map { $0.allowed && $0.source == .redis ? .redis : .fallback } ?? .unanswered)
                        }
                    }
                }
                defer { callers.cancelAll() }
                try await decisions.waitForRedisDecision(after: .now, within: .seconds(10))

                let formerPrimary = try await group.killPrimary()
                let killed = ContinuousClock.now
                _ = try await group.waitForFailover(from: formerPrimary)
                let promoted = ContinuousClock.now
                let back = try await decisions.waitForRedisDecision(after: promoted, within: .seconds(15))
                // A second of decisions after the recovery: every one decided by Redis.
                try await Task.sleep(for: .seconds(1))
                let summary = decisions.summary(since: killed)
                print(
                    "sentinel failover (limiter process): \(summary.failed) of \(summary.total) decisions not by Redis "
                        + "(\(summary.unanswered) calls unanswered); Redis decided again "
                        + "\(back - killed) after the kill, \(back - promoted) after the sentinels agreed on the new primary "
                        + "(\(promoted - killed) after the kill); last failed decision \(summary.lastFailure.map { "\($0 - killed)" } ?? "none") after the kill"
                )
                #expect(summary.failed > 0, "the kill was seen")
                #expect(summary.unanswered == 0, "the limiter answered every call, by the fallback while Redis was away")
                #expect(summary.lastFailure.map { $0 < back + .milliseconds(500) } ?? true, "decisions stayed with Redis once back")
                #expect(back - promoted < .seconds(10), "back on Redis within a generous bound of the promotion")
            }
        }
    }

    @Test func checkConfigValidatesTheSentinelSettings() async throws {
        let folder = try TestFolder()
        try folder.write("policies.yaml", "policies:\n  - {name: steady, limit: 10, period: 1m, key: [ip]}\n")
        let base = [
            "LIMITER_RPC_SECRET": serviceSecret, "LIMITER_POLICIES_FILE": folder.path("policies.yaml"), "LIMITER_REDIS_MODE": "sentinel",
            "LIMITER_REDIS_SENTINEL_ADDRESSES": "127.0.0.1:26379,sentinel-b:26379",
        ]
        let refused = try ServiceProcess.start(
            product: "limiter", arguments: ["--check-config"], environment: base, logPath: folder.path("refused.log")
        )
        #expect(try await refused.waitForExit(timeout: .seconds(20)) == .exited(78))
        #expect(refused.log.contains("key 'redis.sentinel.master_name' is required"), "\(refused.log)")

        let badAddress = try ServiceProcess.start(
            product: "limiter", arguments: ["--check-config"],
            environment: base.merging(["LIMITER_REDIS_SENTINEL_MASTER_NAME": "gatehouse", "LIMITER_REDIS_SENTINEL_ADDRESSES": "sentinel-b"]) { $1 },
            logPath: folder.path("bad-address.log")
        )
        #expect(try await badAddress.waitForExit(timeout: .seconds(20)) == .exited(78))
        #expect(badAddress.log.contains("key 'redis.sentinel.addresses'"), "\(badAddress.log)")

        let accepted = try ServiceProcess.start(
            product: "limiter", arguments: ["--check-config"],
            environment: base.merging(["LIMITER_REDIS_SENTINEL_MASTER_NAME": "gatehouse"]) { $1 }, logPath: folder.path("accepted.log")
        )
        #expect(try await accepted.waitForExit(timeout: .seconds(20)) == .exited(0), "\(accepted.log)")
    }
}

/// When decisions were taken and who took them.
private final class DecisionLog: Sendable {
    enum Outcome {
        case redis
        case fallback
        /// The call failed or timed out.
        case unanswered
    }

    private let entries = Mutex<[(at: ContinuousClock.Instant, outcome: Outcome)]>([])

    func record(_ outcome: Outcome) {
        self.entries.withLock { $0.append((.now, outcome)) }
    }

    /// Waits for a decision by Redis taken after `instant`; returns when it was taken.
    func waitForRedisDecision(after instant: ContinuousClock.Instant, within timeout: Duration) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let decided = self.entries.withLock({ $0.last { $0.outcome == .redis && $0.at > instant }?.at }) {
                return decided
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }

    /// The calls since `instant`: how many, how many were not decided by Redis, how many of those were not
    /// answered at all, and when the last not decided by Redis was.
    func summary(since instant: ContinuousClock.Instant) -> (total: Int, failed: Int, unanswered: Int, lastFailure: ContinuousClock.Instant?) {
        self.entries.withLock { entries in
            let since = entries.filter { $0.at >= instant }
            let failures = since.filter { $0.outcome != .redis }
            return (since.count, failures.count, failures.filter { $0.outcome == .unanswered }.count, failures.last?.at)
        }
    }
}
