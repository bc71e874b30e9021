import EdgeRouterCore
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging

/// Runs `body` with an edge gate in front of the limiter's own decider, behind a real RPC server on a real
/// redis-server, and a Redis client on that server; counts the limiter's calls per method.
/// - Parameters:
///   - catalog: The limiter's policy file.
///   - edgeCatalog: The edge's policy file; the limiter's by default.
///   - batches: `false` serves only `limiter.Check`, as a limiter older than `limiter.CheckBatch` does.
///   - leases: `false` serves no `limiter.AcquireBatch` or `limiter.Release`, as a limiter older than leases does.
///   - apiKeyHeader: The edge's `policies.api_key_header`.
func withEdgeLimiter(
    catalog: PolicyCatalog, edgeCatalog: PolicyCatalog? = nil, batches: Bool = true, leases: Bool = true, apiKeyHeader: String? = nil,
    _ body: @Sendable (EdgeRateLimiter, RPCCallCounts, RedisClient) async throws -> Void
) async throws {
    var logger = Logger(label: "test.edge-limiter")
    logger.logLevel = .critical
    let redisServer = try await RedisServerProcess.start()
    defer { redisServer.stop() }
    let redis = RedisClient(configuration: RedisConfiguration(port: redisServer.port, connectTimeout: .seconds(5), commandTimeout: .seconds(5)), logger: logger)
    let decider = LimiterDecider(catalog: catalog, limiter: RedisRateLimiter(client: redis, logger: logger), logger: logger)
    let counts = RPCCallCounts()
    var handlers = RPCHandlerRegistry()
    handlers.register(LimiterMethods.check, countedIn: counts) { try await decider.check($0) }
    handlers.register(LimiterMethods.peek, countedIn: counts) { try await decider.peek($0) }
    if batches { handlers.register(LimiterMethods.checkBatch, countedIn: counts) { try await decider.checkBatch($0) } }
    if leases {
        handlers.register(LimiterMethods.acquireBatch, countedIn: counts) { try await decider.acquireBatch($0) }
        handlers.register(LimiterMethods.release, countedIn: counts) { try await decider.release($0) }
    }
    try await withThrowingTaskGroup { group in
        group.addTask { try await redis.run() }
        defer { group.cancelAll() }
        try await withRPCServer(handlers, secret: "edge-limiter-test-secret-0123456789") { client in
            try await body(EdgeRateLimiter(limiter: LimiterClient(rpc: client), policies: edgeCatalog ?? catalog, apiKeyHeader: apiKeyHeader, logger: logger), counts, redis)
        }
    }
}
