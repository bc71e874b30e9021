import ArgumentParser
import EdgeRouterCore
import GatehouseCommand

/// `edge-router`: the public front door; verify, limit, cache, forward.
@main
struct EdgeRouterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge-router",
        abstract: "Gatehouse edge router: verifies bearer tokens, decides rate limits, serves from its cache, forwards misses to the data service or a route's HTTP API.",
        discussion: "Configuration: docs/configuration.md. SIGTERM/SIGINT drain requests in flight and shut down."
    )

    @OptionGroup var options: ServiceOptions<EdgeRouterService>

    func run() async throws {
        try await self.options.launch()
    }
}
