import EdgeRouterCore
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging
import Synchronization

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
    _ body: @Sendable (EdgeRateLimiter, CallCounts, RedisClient) async throws -> Void
) async throws {
    var logger = Logger(label: "test.edge-limiter")
    logger.logLevel = .critical
    let redisServer = try await RedisServerProcess.start()
    defer { redisServer.stop() }
    let redis = RedisClient(configuration: RedisConfiguration(port: redisServer.port, connectTimeout: .seconds(5), commandTimeout: .seconds(5)), logger: logger)
    let decider = LimiterDecider(catalog: catalog, limiter: RedisRateLimiter(client: redis, logger: logger), logger: logger)
    let counts = CallCounts()
    var handlers = RPCHandlerRegistry()
    handlers.register(LimiterMethods.check) { request, _ in
        counts.record(LimiterMethods.check.name)
        return try await decider.check(request)
    }
    handlers.register(LimiterMethods.peek) { request, _ in
        counts.record(LimiterMethods.peek.name)
        return try await decider.peek(request)
    }
    if batches {
        handlers.register(LimiterMethods.checkBatch) { batch, _ in
            counts.record(LimiterMethods.checkBatch.name)
            return try await decider.checkBatch(batch)
        }
    }
    if leases {
        handlers.register(LimiterMethods.acquireBatch) { batch, _ in
            counts.record(LimiterMethods.acquireBatch.name)
            return try await decider.acquireBatch(batch)
        }
        handlers.register(LimiterMethods.release) { request, _ in
            counts.record(LimiterMethods.release.name)
            return try await decider.release(request)
        }
    }
    let secret = try RPCSecret("edge-limiter-test-secret-0123456789")
    let server = RPCServer(configuration: RPCServerConfiguration(secret: secret), handlers: handlers, logger: logger)
    try await withThrowingTaskGroup { group in
        group.addTask { try await redis.run() }
        group.addTask { try await server.run() }
        let client = RPCClient(
            configuration: RPCClientConfiguration(
                host: "127.0.0.1", port: try await server.localPort(), secret: secret, connectTimeout: .seconds(10), defaultCallTimeout: .seconds(10)
            ),
            logger: logger
        )
        group.addTask { try await client.run() }
        try await body(EdgeRateLimiter(limiter: LimiterClient(rpc: client), policies: edgeCatalog ?? catalog, apiKeyHeader: apiKeyHeader, logger: logger), counts, redis)
        group.cancelAll()
    }
}

/// RPC calls received, per method.
final class CallCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func record(_ method: String) {
        self.counts.withLock { $0[method, default: 0] += 1 }
    }

    var snapshot: [String: Int] { self.counts.withLock { $0 } }
}
