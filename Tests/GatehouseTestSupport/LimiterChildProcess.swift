import Testing

/// Runs `body` with the RPC port of the real `limiter` executable, started as a child process (JSON logs, ports
/// of its own choice, Redis timeouts for a loaded machine) on Redis at `redisPort`, with `policies` as its policy
/// file, written into `folder`, and `secret` as its service secret; stops it afterwards. The tests of the limiter's callers (the edge, the
/// issuer's login throttle) ask it this way, across the process boundary, rather than linking its code.
public func withLimiterChildProcess<T>(
    folder: TestFolder, redisPort: Int, policies: String, secret: String, _ body: (Int) async throws -> T
) async throws -> T {
    try folder.write("policies.yaml", policies)
    let environment = [
        "LIMITER_RPC_SECRET": secret, "LIMITER_RPC_PORT": "0", "LIMITER_ADMIN_PORT": "0", "LIMITER_REDIS_PORT": "\(redisPort)",
        "LIMITER_POLICIES_FILE": folder.path("policies.yaml"), "LIMITER_LOG_FORMAT": "json",
        // Timeouts for a loaded test machine: past the defaults (250 ms, 1 s) a check would follow its policy's
        // fallback (by default `allow`) instead of being decided in Redis.
        "LIMITER_REDIS_CONNECT_TIMEOUT_MS": "5000", "LIMITER_REDIS_COMMAND_TIMEOUT_MS": "10000",
    ]
    let limiter = try ServiceProcess.start(product: "limiter", environment: environment, logPath: folder.path("limiter.log"))
    defer { limiter.stop() }
    let port = try #require(Int(try await limiter.waitForLog(message: "limiter listening")["rpc.port"] as? String ?? ""))
    return try await body(port)
}
