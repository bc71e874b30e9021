import ArgumentParser
import GatehouseCommand
import LimiterCore

/// `limiter`: answers `limiter.Check`, `limiter.CheckBatch`, `limiter.AcquireBatch`, `limiter.Release`, `limiter.Peek` and
/// `limiter.Reset` over RPC, with counters in Redis.
@main
enum LimiterCommand {
    static func main() async {
        await ServiceCommand<LimiterService>.main()
    }
}
