import EdgeRouterCore
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging
import Synchronization
import Testing

/// Concurrent requests of a busy edge share limiter calls, and each is still decided exactly: with leases, and
/// against a limiter older than leases (a rolling upgrade), which gets checks.
@Suite(.timeLimit(.minutes(1)))
struct EdgeRateLimiterBatchingTests {
    static let catalog = try! PolicyCatalog(
        yaml: """
            policies:
              - {name: user, limit: 20, period: 1h, key: [sub]}
            """,
        source: "batching.yaml"
    )

    static func withLimiter(
        batches: Bool = true, leases: Bool = true, _ body: @Sendable (EdgeRateLimiter, RPCCallCounts) async throws -> Void
    ) async throws {
        try await withEdgeLimiter(catalog: Self.catalog, batches: batches, leases: leases) { gate, counts, _ in try await body(gate, counts) }
    }

    static let alice = PolicyKeyValues(ip: "127.0.0.1", subject: "alice")

    /// 200 concurrent requests of one subject against 20 an hour.
    static func flood(_ gate: EdgeRateLimiter) async -> [EdgeRateLimiter.Decision] {
        await withTaskGroup(of: EdgeRateLimiter.Decision.self) { group in
            for index in 0..<200 {
                group.addTask { await gate.decide(policies: ["user"], for: Self.alice, requestID: "r\(index)") }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func concurrentRequestsShareAcquiresAndExactlyTheLimitIsAllowed() async throws {
        try await Self.withLimiter { gate, counts in
            let decisions = await Self.flood(gate)
            #expect(decisions.filter(\.allowed).count == 20, "exactly the limit, however the units were leased")
            #expect(decisions.filter { !$0.allowed }.allSatisfy { $0.deniedBy == "user" && $0.retryAfterSeconds >= 1 })
            let calls = counts.snapshot
            #expect(calls[LimiterMethods.check.name, default: 0] + calls[LimiterMethods.checkBatch.name, default: 0] == 0, "\(calls)")
            #expect(calls.values.reduce(0, +) < 200, "200 concurrent requests took fewer than 200 calls: \(calls)")
        }
    }

    @Test func aLimiterWithoutLeasesGetsBatchedChecksAndExactlyTheLimitIsAllowed() async throws {
        try await Self.withLimiter(leases: false) { gate, counts in
            let decisions = await Self.flood(gate)
            #expect(decisions.filter(\.allowed).count == 20, "exactly the limit, however the checks were batched")
            #expect(decisions.filter { !$0.allowed }.allSatisfy { $0.deniedBy == "user" && $0.retryAfterSeconds >= 1 })
            let calls = counts.snapshot
            #expect(calls[LimiterMethods.checkBatch.name, default: 0] >= 1, "\(calls)")
            #expect(calls.values.reduce(0, +) < 200, "200 concurrent checks took fewer than 200 calls: \(calls)")
        }
    }

    /// The `RateLimit` field of a decision's headers, e.g. `"user";r=0;t=3600`.
    static func rateLimitField(_ decision: EdgeRateLimiter.Decision) -> String? {
        decision.headers.first { $0.name == "RateLimit" }?.value
    }

    /// The `t` (seconds until the reset) of a decision's `RateLimit` field.
    static func resetSeconds(_ decision: EdgeRateLimiter.Decision) -> Int? {
        Self.rateLimitField(decision).flatMap { $0.split(separator: "t=").last }.flatMap { Int($0) }
    }

    @Test func aRememberedDenialCountsDownItsRetryAfterAndReset() async throws {
        try await Self.withLimiter { gate, counts in
            _ = await Self.flood(gate)
            let first = await gate.decide(policies: ["user"], for: Self.alice, requestID: "first")
            let callsBefore = counts.snapshot.values.reduce(0, +)
            // 20 an hour: the next unit comes in 180 s, the whole budget is back in an hour (counted down
            // by however long the flood and this repeat took on a busy machine).
            #expect(!first.allowed)
            #expect((175...180).contains(first.retryAfterSeconds))
            #expect(Self.rateLimitField(first)?.hasPrefix(#""user";r=0;t="#) == true)
            let firstReset = try #require(Self.resetSeconds(first))
            #expect((3595...3600).contains(firstReset))

            try await Task.sleep(for: .milliseconds(1_100))
            let repeated = await gate.decide(policies: ["user"], for: Self.alice, requestID: "repeated")
            #expect(counts.snapshot.values.reduce(0, +) == callsBefore, "the repeat was answered from the edge's memory")
            #expect(!repeated.allowed && repeated.deniedBy == "user")
            #expect(repeated.retryAfterSeconds < first.retryAfterSeconds && repeated.retryAfterSeconds >= first.retryAfterSeconds - 5)
            let reset = try #require(Self.resetSeconds(repeated))
            #expect(reset < firstReset && reset >= firstReset - 5, "the reset counts down too: \(Self.rateLimitField(repeated) ?? "none")")
        }
    }

    @Test func aLimiterWithoutBatchesGetsEachCheckAloneAndStillDecidesExactly() async throws {
        try await Self.withLimiter(batches: false, leases: false) { gate, counts in
            let decisions = await Self.flood(gate)
            #expect(decisions.filter(\.allowed).count == 20)
            // Nothing fell back: every denial came from the limiter, with its headers.
            #expect(decisions.allSatisfy { !$0.headers.isEmpty })
            #expect(counts.snapshot[LimiterMethods.check.name, default: 0] >= 20)
        }
    }
}
