import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging
import Testing

/// The limiter client's batching (``LimiterClient/acquire(_:traceID:)``) against the limiter's own decider behind
/// a real RPC server on a real redis-server: concurrent acquires share calls and each caller gets its own
/// answer or error; a limiter older than leases (or than batches) is sent checks and still decides exactly.
@Suite(.timeLimit(.minutes(1)))
struct LimiterCallBatcherTests {
    static let catalog = try! PolicyCatalog(
        yaml: """
            policies:
              - {name: user, limit: 20, period: 1h, key: [sub]}
            """,
        source: "batcher.yaml"
    )
    static let secret = "limiter-call-batcher-secret-0123456789"

    /// Runs `body` with a client of the limiter's decider on a fresh redis-server, served as a limiter of the
    /// given age serves it.
    /// - Parameters:
    ///   - batches: `false` serves no `limiter.CheckBatch`, as a limiter older than batches does.
    ///   - leases: `false` serves no `limiter.AcquireBatch`, as a limiter older than leases does.
    static func withLimiter(
        batches: Bool = true, leases: Bool = true, _ body: @Sendable (LimiterClient, RPCCallCounts) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test.limiter-call-batcher")
        logger.logLevel = .critical
        let redisServer = try await RedisServerProcess.start()
        defer { redisServer.stop() }
        let redis = RedisClient(configuration: RedisConfiguration(port: redisServer.port, connectTimeout: .seconds(5), commandTimeout: .seconds(5)), logger: logger)
        let decider = LimiterDecider(catalog: Self.catalog, limiter: RedisRateLimiter(client: redis, logger: logger), logger: logger)
        let counts = RPCCallCounts()
        var handlers = RPCHandlerRegistry()
        handlers.register(LimiterMethods.check, countedIn: counts) { try await decider.check($0) }
        if batches { handlers.register(LimiterMethods.checkBatch, countedIn: counts) { try await decider.checkBatch($0) } }
        if leases { handlers.register(LimiterMethods.acquireBatch, countedIn: counts) { try await decider.acquireBatch($0) } }
        try await withThrowingTaskGroup { group in
            group.addTask { try await redis.run() }
            defer { group.cancelAll() }
            try await withRPCServer(handlers, secret: Self.secret) { rpc in try await body(LimiterClient(rpc: rpc, logger: logger), counts) }
        }
    }

    /// `count` concurrent acquires of one unit of `user` for alice; every `refusedEvery`-th instead names a
    /// policy the limiter lacks. The outcomes in request order.
    static func flood(_ limiter: LimiterClient, count: Int = 100, refusedEvery: Int = 0) async -> [Result<LimiterDecision, LimiterClientError>] {
        await withTaskGroup(of: (Int, Result<LimiterDecision, LimiterClientError>).self) { group in
            for index in 0..<count {
                group.addTask {
                    let policy = refusedEvery > 0 && index % refusedEvery == 0 ? "no_such_policy" : "user"
                    let request = LimiterRequest(caller: "alice", items: [LimiterRequest.Item(policy: policy, key: "alice", cost: 1)])
                    do {
                        return (index, try await limiter.acquire(request, traceID: "r\(index)"))
                    } catch {
                        return (index, .failure(error as? LimiterClientError ?? LimiterClientError(.failed, "\(error)")))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    @Test func concurrentAcquiresShareCallsAndEachCallerGetsItsOwnAnswerOrError() async throws {
        try await Self.withLimiter { limiter, counts in
            let outcomes = await Self.flood(limiter, refusedEvery: 5)
            for (index, outcome) in outcomes.enumerated() where index % 5 == 0 {
                guard case .failure(let error) = outcome else {
                    Issue.record("the acquire of a policy the limiter lacks was decided: \(outcome)")
                    continue
                }
                #expect(error.reason == .refused, "\(error)")
            }
            let decisions = outcomes.enumerated().filter { $0.offset % 5 != 0 }.compactMap { try? $0.element.get() }
            #expect(decisions.count == 80, "every acquire of a known policy was decided")
            #expect(decisions.filter(\.allowed).count == 20, "exactly the limit")
            #expect(decisions.filter(\.allowed).allSatisfy { $0.statuses[0].granted == 1 && $0.statuses[0].policy == "user" })
            #expect(decisions.filter { !$0.allowed }.allSatisfy { $0.statuses[0].retryAfterMilliseconds > 0 })
            let calls = counts.snapshot
            #expect(calls[LimiterMethods.check.name, default: 0] + calls[LimiterMethods.checkBatch.name, default: 0] == 0, "\(calls)")
            #expect(calls[LimiterMethods.acquireBatch.name, default: 0] < 100, "100 concurrent acquires took fewer calls: \(calls)")
            #expect(!limiter.sendsChecksOnly(at: .now))
            #expect(limiter.leasePeriodMilliseconds == 1000, "the limiter's leases.period_ms, from its answers")
        }
    }

    @Test func aLimiterWithoutLeasesIsSentBatchedChecksAndEachAllowedPolicyIsGrantedItsCost() async throws {
        try await Self.withLimiter(leases: false) { limiter, counts in
            let decisions = await Self.flood(limiter).compactMap { try? $0.get() }
            #expect(decisions.count == 100)
            #expect(decisions.filter(\.allowed).count == 20, "exactly the limit, however the checks were batched")
            #expect(decisions.filter(\.allowed).allSatisfy { $0.statuses[0].granted == 1 && $0.statuses[0].leaseMilliseconds == 0 })
            let calls = counts.snapshot
            #expect(calls[LimiterMethods.checkBatch.name, default: 0] >= 1, "\(calls)")
            #expect(calls.values.reduce(0, +) < 100, "100 concurrent acquires took fewer calls: \(calls)")
            #expect(limiter.sendsChecksOnly(at: .now), "the limiter is taken for an older one")
            #expect(!limiter.sendsChecksOnly(at: .now + .seconds(31)), "and asked for leases again after 30 s")
        }
    }

    @Test func aLimiterWithoutBatchesIsSentEachCheckAloneAndStillDecidesExactly() async throws {
        try await Self.withLimiter(batches: false, leases: false) { limiter, counts in
            let decisions = await Self.flood(limiter).compactMap { try? $0.get() }
            #expect(decisions.count == 100, "no acquire failed for the missing methods")
            #expect(decisions.filter(\.allowed).count == 20)
            #expect(counts.snapshot[LimiterMethods.check.name, default: 0] >= 20, "\(counts.snapshot)")
        }
    }

    @Test func aLimiterNobodyListensForFailsEveryAcquireAsUnreachable() async throws {
        try await withUnreachableRPCClient(secret: Self.secret) { rpc in
            let outcomes = await Self.flood(LimiterClient(rpc: rpc), count: 10)
            for outcome in outcomes {
                guard case .failure(let error) = outcome else {
                    Issue.record("an acquire without a limiter was decided: \(outcome)")
                    continue
                }
                #expect(error.reason == .unreachable, "\(error)")
            }
        }
    }
}
