import GatehouseLimiterPolicies
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging
import Testing

/// Runs `body` with a client on `port` whose `run()` is going in a sibling task; stops it afterwards.
func withRunningClient(
    port: Int,
    poolSize: Int = 2,
    _ body: (RedisClient) async throws -> Void
) async throws {
    let client = RedisClient(
        configuration: RedisConfiguration(port: port, connectTimeout: .seconds(5), commandTimeout: .seconds(5), poolSize: poolSize),
        logger: Logger(label: "gatehouse.limiter.test")
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await client.run()
        }
        defer { group.cancelAll() }
        try await body(client)
    }
}

/// Starts a redis-server and runs `body` with a limiter on it and the limiter's client; stops both afterwards.
func withRateLimiter(
    poolSize: Int = 2,
    _ body: (RedisRateLimiter, RedisClient, RedisServerProcess) async throws -> Void
) async throws {
    let server = try await RedisServerProcess.start()
    defer { server.stop() }
    try await withRunningClient(port: server.port, poolSize: poolSize) { client in
        let limiter = RedisRateLimiter(client: client, logger: Logger(label: "gatehouse.limiter.test"))
        try await body(limiter, client, server)
    }
}

extension RedisClient {
    /// Redis' clock (`TIME`) in microseconds: the clock the rate-limit script decides with.
    func serverMicroseconds() async throws -> Int {
        let reply = try await self.send(["TIME"])
        let parts = try #require(reply.array)
        try #require(parts.count == 2)
        return try #require(parts[0].int) * 1_000_000 + #require(parts[1].int)
    }

    /// The key's remaining time to live in milliseconds (`PTTL`): -2 when it does not exist, -1 without expiry.
    func timeToLiveMilliseconds(_ key: String) async throws -> Int? {
        try await self.send(["PTTL", key]).int
    }
}

/// Every algorithm, for parameterized tests.
let allAlgorithms = RateLimitAlgorithm.allCases
