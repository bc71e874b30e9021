import ArgumentParser

/// Micro-benchmarks of Gatehouse's hot paths, run in release against real peers (see docs/performance.md).
@main
struct GatehouseBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatehouse-bench",
        abstract: "Benchmarks of the shared RPC and Redis layers, of the limiter, and the HTTP floor.",
        subcommands: [RPCServerCommand.self, RPCLoadCommand.self, RedisLoadCommand.self, LimiterLoadCommand.self, LimiterDecideCommand.self, DataLoadCommand.self, HTTPFloorCommand.self]
    )
}
