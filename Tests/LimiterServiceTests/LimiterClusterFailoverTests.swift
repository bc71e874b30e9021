import Foundation
import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import Testing

/// A primary of the Redis Cluster is killed (SIGKILL) while a limiter decides checks on every primary: its
/// replica is promoted; checks on the other primaries' counters stay decided by Redis throughout; checks on
/// the lost primary's counters follow their fallback only until the promotion, then Redis decides again.
/// The limiter stays a child process: it is configured for the cluster by its environment alone, as deployed,
/// and the Redis failover, not the limiter's start, is what this suite waits for.
@Suite(.timeLimit(.minutes(5)))
struct LimiterClusterFailoverTests {
    static let policies = """
        replicas: 1
        policies:
          - {name: wide, algorithm: fixed_window, limit: 1000000, period: 24h, key: [ip], on_redis_failure: local}

        """

    /// One check's caller, when it was answered, and by what.
    struct Answer: Sendable {
        let caller: String
        let at: ContinuousClock.Instant
        let source: Gatehouse_Limiter_DecisionSource
    }

    /// Waits until a live node names another primary than `victim` for `slot`; returns when it did.
    private static func promotion(of victim: RedisServerProcess, owning slot: Int, in cluster: RedisClusterProcess) async throws -> ContinuousClock.Instant {
        let witness = try #require(cluster.nodes.first { $0 !== victim })
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let owner = try? await cluster.primary(ofSlot: slot, asking: witness), owner !== victim {
                return .now
            }
            try #require(ContinuousClock.now < deadline, "no replica took over slot \(slot) within 30 s")
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func aKilledPrimaryIsReplacedAndOnlyItsKeysFallBackUntilThePromotion() async throws {
        let cluster = try await RedisClusterProcess.start(nodeTimeout: .milliseconds(1000))
        defer { cluster.stop() }
        // Two callers per primary.
        var callersByPort: [Int: [String]] = [:]
        for index in 0..<200 where callersByPort.values.reduce(0, { $0 + $1.count }) < 6 {
            let caller = "203.0.113.\(index)"
            let port = try await cluster.primary(ofSlot: RedisHashSlot.slot(of: caller)).port
            if callersByPort[port, default: []].count < 2 {
                callersByPort[port, default: []].append(caller)
            }
        }
        let victim = try #require(cluster.nodes.prefix(3).first { $0.port == callersByPort.keys.sorted().first })
        let victimCallers = callersByPort[victim.port] ?? []
        let callers = callersByPort.values.flatMap { $0 }
        #expect(callers.count == 6)

        let folder = try TestFolder()
        try folder.write("policies.yaml", Self.policies)
        let limiter = try await LimiterProcess.start(1, on: cluster, folder: folder)[0]
        let (all, killedAt, promotedAt) = try await limiter.withClient { client in
            try await withThrowingTaskGroup(of: [Answer].self) { group in
                group.addTask {
                    // Waves of one check per caller, 20 ms apart, until cancelled.
                    var answers: [Answer] = []
                    while !Task.isCancelled {
                        for caller in callers {
                            guard let response = try? await client.check(policy: "wide", key: caller) else {
                                try #require(Task.isCancelled, "a check failed")
                                return answers
                            }
                            answers.append(Answer(caller: caller, at: .now, source: response.source))
                        }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return answers
                }
                try await Task.sleep(for: .seconds(1))
                // Taken before the kill: a check failing while crash() reaps the process counts as after it.
                let killedAt = ContinuousClock.now
                victim.crash()
                let promotedAt = try await Self.promotion(of: victim, owning: RedisHashSlot.slot(of: victimCallers[0]), in: cluster)
                // Answers past the promotion's settling time (5 s, below) for the last check.
                try await Task.sleep(until: promotedAt + .seconds(6), clock: .continuous)
                group.cancelAll()
                let answers = try await group.reduce(into: []) { $0 += $1 }
                return (answers, killedAt, promotedAt)
            }
        }
        let others = all.filter { !victimCallers.contains($0.caller) }
        let victims = all.filter { victimCallers.contains($0.caller) }
        #expect(others.contains { $0.at > killedAt } && victims.contains { $0.at < killedAt })
        let othersNotRedis = others.filter { $0.source != .redis }
        #expect(othersNotRedis.isEmpty, "keys on the other primaries were decided without Redis: \(othersNotRedis.count) of \(others.count)")
        #expect(victims.filter { $0.at < killedAt }.allSatisfy { $0.source == .redis })
        let fallbacks = victims.filter { $0.source == .fallbackLocal }
        #expect(!fallbacks.isEmpty, "the lost primary's keys followed their fallback while it was down")
        // The client reads the map again within 100 ms of a failed call; the nodes may take a moment to agree.
        #expect(fallbacks.allSatisfy { $0.at > killedAt && $0.at < promotedAt + .seconds(5) }, "fallbacks only until shortly after the promotion")
        let afterPromotion = victims.filter { $0.at > promotedAt + .seconds(5) }
        #expect(!afterPromotion.isEmpty && afterPromotion.allSatisfy { $0.source == .redis }, "back to Redis after the promotion")
    }
}
