import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import Testing

/// Several limiter processes sharing a Redis Cluster (3 primaries, 3 replicas) agree exactly, with callers
/// spread over every primary: each batch of concurrent requests is split into one script call per hash slot.
@Suite(.timeLimit(.minutes(5)))
struct LimiterClusterExactnessTests {
    /// One policy per algorithm (limit 10), and `user` keyed by `[sub]` for a request spanning two slots.
    static let policies = LimiterExactnessTests.policies(limit: 10) + "  - {name: user, algorithm: gcra, limit: 10, period: 24h, key: [sub]}\n"

    /// Callers whose counters (`gh:<policy>:{<ip>}`) lie on every primary.
    static let callers = (0..<48).map { "198.51.100.\($0)" }

    @Test func threeLimiterProcessesAdmitExactlyEachCallersLimitOnARedisCluster() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        var owners = Set<Int>()
        for caller in Self.callers {
            owners.insert(try await cluster.primary(ofSlot: RedisHashSlot.slot(of: caller)).port)
        }
        #expect(owners.count == 3, "the callers' counters are on every primary")

        let folder = try TestFolder()
        try folder.write("policies.yaml", Self.policies)
        let limiters = try await LimiterProcess.start(3, on: cluster, folder: folder)
        try await withClients(limiters) { clients in
            for policy in ["gcra", "bucket", "fixed", "sliding"] {
                // Per caller 10 single checks and 15 inside batches of 16 requests of different callers, all at once.
                let answers = try await withThrowingTaskGroup(of: [(String, Gatehouse_Limiter_CheckResponse)].self) { group in
                    for (index, caller) in Self.callers.enumerated() {
                        for call in 0..<10 {
                            group.addTask {
                                [(caller, try await clients[(index + call) % clients.count].check(policy: policy, key: caller))]
                            }
                        }
                    }
                    let batched = Self.callers.flatMap { Array(repeating: $0, count: 15) }.shuffled()
                    for (batchIndex, start) in stride(from: 0, to: batched.count, by: 16).enumerated() {
                        let callers = Array(batched[start..<min(start + 16, batched.count)])
                        group.addTask {
                            var batch = Gatehouse_Limiter_CheckBatchRequest()
                            batch.requests = callers.map { caller in
                                var request = Gatehouse_Limiter_CheckRequest()
                                request.caller = caller
                                var item = Gatehouse_Limiter_CheckItem()
                                item.policy = policy
                                item.key = caller
                                request.items = [item]
                                return request
                            }
                            let answer = try await clients[batchIndex % clients.count].call(LimiterMethods.checkBatch, batch, timeout: .seconds(30))
                            return try zip(callers, answer.outcomes).map { caller, outcome in
                                guard case .response(let response) = outcome.result else {
                                    throw RPCError(.internal, "a batched check failed: \(outcome)")
                                }
                                return (caller, response)
                            }
                        }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
                #expect(answers.count == Self.callers.count * 25)
                #expect(answers.allSatisfy { $0.1.source == .redis || $0.1.source == .denialCache }, "\(Set(answers.map { "\($0.1.source)" }))")
                for caller in Self.callers {
                    let allowed = answers.filter { $0.0 == caller && $0.1.allowed }.count
                    if policy == "sliding" {
                        #expect(allowed >= 10 && allowed <= 19, "sliding_window admitted \(allowed) for \(caller)")
                    } else {
                        #expect(allowed == 10, "\(policy) admitted \(allowed) of 25 with limit 10 for \(caller)")
                    }
                }
            }

            // A request whose counters lie in two slots cannot be one atomic script call: refused, naming why.
            let refused = await #expect(throws: RPCError.self) {
                try await clients[0].check(caller: "alice", [("gcra", "203.0.113.1", nil), ("user", "alice", nil)])
            }
            #expect(refused?.code == .invalidArgument)
            #expect(refused?.message.contains("hash slot") == true, "\(refused?.message ?? "")")
        }
    }
}
