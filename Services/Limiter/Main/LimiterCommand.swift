import ArgumentParser
import GatehouseCommand
import LimiterCore

/// `limiter`: answers `limiter.Check`, `limiter.CheckBatch`, `limiter.AcquireBatch`, `limiter.Release`, `limiter.Peek` and
/// `limiter.Reset` over RPC, with counters in Redis.
@main
struct LimiterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limiter",
        abstract: "Gatehouse rate limiter: exact distributed rate limits in Redis, answered over RPC.",
        discussion: "Configuration: docs/configuration.md. SIGHUP reloads the policy file; SIGTERM/SIGINT shut down gracefully."
    )

    @OptionGroup var options: ServiceOptions<LimiterService>

    func run() async throws {
        try await self.options.launch()
    }
}
