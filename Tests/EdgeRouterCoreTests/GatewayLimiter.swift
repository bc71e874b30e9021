import GatehouseRPC
import GatehouseTestSupport

/// Runs `body` with an RPC client of the real `limiter` executable, a child process on a real redis-server with
/// `policies` as its policy file; stops them afterwards.
func withGatewayLimiter(policies: String, _ body: @Sendable (RPCClient) async throws -> Void) async throws {
    let redis = try await RedisServerProcess.start()
    defer { redis.stop() }
    let secret = "edge-core-limiter-secret-0123456789"
    try await withLimiterChildProcess(folder: try TestFolder(), redisPort: redis.port, policies: policies, secret: secret) { port in
        try await withRPCClients(ports: [port], secret: secret) { try await body($0[0]) }
    }
}
