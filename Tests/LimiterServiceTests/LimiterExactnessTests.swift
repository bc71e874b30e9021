import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// Several limiter processes sharing one Redis agree exactly: the counters live only in Redis.
///
/// Separate processes are the point: nothing but Redis is shared between them.
@Suite struct LimiterExactnessTests {
    /// A policy file with one policy per algorithm, each `limit` per 24 h and keyed by `[ip]`.
    static func policies(limit: Int) -> String {
        """
        replicas: 3
        policies:
          - {name: gcra, algorithm: gcra, limit: \(limit), period: 24h, key: [ip]}
          - {name: bucket, algorithm: token_bucket, limit: \(limit), period: 24h, key: [ip]}
          - {name: fixed, algorithm: fixed_window, limit: \(limit), period: 24h, key: [ip]}
          - {name: sliding, algorithm: sliding_window, limit: \(limit), period: 24h, key: [ip]}

        """
    }

    @Test func threeLimiterProcessesAdmitExactlyTheLimitOf2000ConcurrentChecks() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try folder.write("policies.yaml", Self.policies(limit: 100))
        var limiters: [LimiterProcess] = []
        for index in 0..<3 {
            // Exactness is a property of Redis-decided answers: a command timeout long enough for a burst of
            // 2,000 on a small machine keeps the fallbacks out of it (every answer's source is checked too).
            limiters.append(
                try await LimiterProcess(
                    folder: folder,
                    redisPort: redis.port,
                    name: "limiter-\(index)",
                    environment: ["LIMITER_REDIS_COMMAND_TIMEOUT_MS": "10000"]
                )
            )
        }
        try await withClients(limiters) { clients in
            for policy in ["gcra", "bucket", "fixed", "sliding"] {
                let answers = try await withThrowingTaskGroup(of: Gatehouse_Limiter_CheckResponse.self) { group in
                    for call in 0..<2_000 {
                        group.addTask {
                            try await clients[call % clients.count].check(policy: policy, key: "203.0.113.7")
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.allSatisfy { $0.source == .redis || $0.source == .denialCache })
                let allowed = answers.filter(\.allowed).count
                if policy == "sliding" {
                    // Within one window of a fresh key the weighted estimate is exact; across a window boundary
                    // it stays below the documented bound of 2 × limit − 1.
                    #expect(allowed >= 100 && allowed <= 199, "sliding_window admitted \(allowed)")
                } else {
                    #expect(allowed == 100, "\(policy) admitted \(allowed) of 2,000 with limit 100")
                }
            }
        }
    }
}
