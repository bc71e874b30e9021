import ArgumentParser
import Foundation
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRedis
import LimiterCore
import Logging

/// `gatehouse-bench limiter-decide`: the limiter's decision path in process, without RPC: a `LimiterDecider`
/// on a real Redis, checks decided by the script in Redis next to repeats answered from the denial cache.
/// Also prints the `EVALSHA` command the limiter sends, for `redis-benchmark`.
struct LimiterDecideCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "limiter-decide", abstract: "Time LimiterDecider on Redis and on the denial cache.")

    @Option(help: "Redis host.") var host = "127.0.0.1"
    @Option(help: "Redis port.") var port = 6379
    @Option(help: "Concurrent callers.") var concurrency = 64
    @Option(help: "Redis connections.") var connections = 2
    @Option(help: "Seconds to measure each path (after a 1 s warm-up).") var seconds = 5.0
    @Option(help: "Write the Lua script to this file and print the EVALSHA arguments, then exit.") var printCommand: String?

    func run() async throws {
        let policy = RateLimitPolicy(name: "bench", limit: 1_000_000_000, period: .seconds(3600), key: [.ip])
        let tiny = RateLimitPolicy(name: "tiny", limit: 1, period: .seconds(3600), key: [.ip])
        if let path = self.printCommand {
            let item = RateLimitItem(key: "gh:{bench}:bench:__rand_int__", limit: policy.limit, period: policy.period)
            let command = RedisRateLimiter.benchmarkCommand(for: [item])
            try command.script.source.write(toFile: path, atomically: true, encoding: .utf8)
            print(command.arguments.joined(separator: " "))
            return
        }
        var logger = Logger(label: "gatehouse-bench.limiter-decide")
        logger.logLevel = .warning
        let redis = RedisClient(configuration: RedisConfiguration(host: self.host, port: self.port, poolSize: self.connections), logger: logger)
        let catalog = try PolicyCatalog(
            yaml: "policies:\n  - {name: bench, limit: \(policy.limit), period: 1h, key: [ip]}\n  - {name: tiny, limit: \(tiny.limit), period: 1h, key: [ip]}\n",
            source: "bench"
        )
        let decider = LimiterDecider(catalog: catalog, limiter: RedisRateLimiter(client: redis, logger: logger), logger: logger)
        let keys = 10_000
        let allowed = (0..<keys).map { Gatehouse_Limiter_CheckRequest.bench(policy: "bench", key: "key-\($0)") }
        let denied = (0..<keys).map { Gatehouse_Limiter_CheckRequest.bench(policy: "tiny", key: "key-\($0)") }
        try await withThrowingTaskGroup { group in
            group.addTask { try await redis.run() }
            for request in denied {
                _ = try await decider.check(request)
                _ = try await decider.check(request)
            }
            for (name, requests) in [("decided in Redis", allowed), ("denial cache", denied)] {
                let counter = SharedCounter()
                let (rate, latency) = try await ClosedLoopLoad.measure(concurrency: self.concurrency, seconds: self.seconds) {
                    _ = try await decider.check(requests[counter.next() % requests.count])
                }
                print(
                    String(
                        format: "LimiterDecider.check, %@: %.0f checks/s, p50 %.1f us, p99 %.1f us (%d callers, %d Redis connection(s))",
                        name, rate, latency.p50, latency.p99, self.concurrency, self.connections
                    )
                )
            }
            group.cancelAll()
        }
    }
}
