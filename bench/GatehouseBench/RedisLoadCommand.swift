import ArgumentParser
import Foundation
import GatehouseRedis
import Logging

/// `gatehouse-bench redis-load`: pipelined PING and EVALSHA of a small script from one client, reported
/// as commands/s so it can stand next to `redis-benchmark -P 16` for the same commands.
struct RedisLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "redis-load", abstract: "Load a Redis server with PING and EVALSHA.")

    @Option(help: "Redis host.") var host = "127.0.0.1"
    @Option(help: "Redis port.") var port = 6379
    @Option(help: "Concurrent callers (commands in flight).") var concurrency = 64
    @Option(help: "Connections in the client's pool.") var connections = 1
    @Option(help: "Seconds to measure each command (after a 1 s warm-up).") var seconds = 5.0

    /// The same tiny script redis-benchmark runs: one key, INCR.
    static let script = RedisScript(source: "return redis.call('INCR', KEYS[1])")

    func run() async throws {
        var logger = Logger(label: "gatehouse-bench.redis-load")
        logger.logLevel = .warning
        let client = RedisClient(
            configuration: RedisConfiguration(host: self.host, port: self.port, poolSize: self.connections),
            logger: logger
        )
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            let commands: [(String, @Sendable () async throws -> Void)] = [
                ("PING", { _ = try await client.send(["PING"]) }),
                ("EVALSHA", { _ = try await client.evalScript(Self.script, keys: ["gatehouse-bench:counter"], arguments: []) }),
            ]
            for (name, command) in commands {
                let (rate, latency) = try await ClosedLoopLoad.measure(concurrency: self.concurrency, seconds: self.seconds, command)
                print(
                    String(
                        format: "redis %@: %.0f commands/s, p50 %.0f us, p99 %.0f us (%d in flight, %d connection(s))",
                        name, rate, latency.p50, latency.p99, self.concurrency, self.connections
                    )
                )
            }
            group.cancelAll()
        }
    }

}
