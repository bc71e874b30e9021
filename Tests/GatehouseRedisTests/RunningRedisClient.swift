import GatehouseRedis
import Logging
import NIOCore
import NIOPosix

/// Runs `body` with a client whose `run()` is going in a sibling task; stops it afterwards.
func withRunningClient(
    _ configuration: RedisConfiguration,
    _ body: (RedisClient) async throws -> Void
) async throws {
    let client = RedisClient(
        configuration: configuration,
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
        logger: Logger(label: "gatehouse.redis.test")
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await client.run()
        }
        defer { group.cancelAll() }
        try await body(client)
    }
}

/// Retries `operation` until it succeeds or `timeout` has passed, then rethrows its last error.
/// For conditions that become true by themselves, such as a client reconnecting after a server restart.
func eventually<Result: Sendable>(
    within timeout: Duration = .seconds(3),
    _ operation: () async throws -> Result
) async throws -> Result {
    let deadline = ContinuousClock.now + timeout
    while true {
        do {
            return try await operation()
        } catch {
            if ContinuousClock.now >= deadline {
                throw error
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
