import ArgumentParser
import Foundation
import GatehouseLimiterAPI
import GatehouseRPC
import Logging

/// `gatehouse-bench limiter-load`: `limiter.Check` calls against a running limiter over RPC, closed loop
/// (N callers) or open loop (a fixed rate), either on keys that stay allowed (every decision goes to Redis)
/// or on keys that are already denied (repeats answered from the denial cache).
struct LimiterLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "limiter-load", abstract: "Load a limiter with checks over RPC.")

    enum Mode: String, ExpressibleByArgument {
        /// Keys far below the limit: every check is decided by the script in Redis.
        case allowed
        /// Keys already over the limit: repeats are answered by the denial cache.
        case denied
    }

    @Option(help: "allowed (decided in Redis) or denied (denial cache).") var mode = Mode.allowed
    @Option(help: "Policy for allowed checks (a high limit).") var allowedPolicy = "bench"
    @Option(help: "Policy for denied checks (limit 1).") var deniedPolicy = "tiny"
    @Option(help: "Distinct keys the checks cycle through.") var keys = 10_000
    @Option(help: "Checks per second (open loop); 0: closed loop with --concurrency callers.") var rate = 0.0

    @OptionGroup var peer: BenchPeerOptions

    func run() async throws {
        let rpc = try self.peer.client(label: "gatehouse-bench.limiter-load")
        let client = LimiterClient(rpc: rpc)
        let policy = self.mode == .allowed ? self.allowedPolicy : self.deniedPolicy
        let requests = (0..<self.keys).map { index in
            LimiterRequest(caller: "bench", items: [.init(policy: policy, key: "198.51.\(index / 256 % 256).\(index % 256)-\(index)")])
        }
        let counter = SharedCounter()
        let expectAllowed = self.mode == .allowed
        let wrongAnswers = SharedCounter()
        try await withThrowingTaskGroup { group in
            group.addTask { try await rpc.run() }
            if self.mode == .denied {
                // Spend each key's single unit, so every later check is a repeat of a denial.
                for request in requests {
                    _ = try await client.check(request)
                    _ = try await client.check(request)
                }
            }
            let operation: @Sendable () async throws -> Void = {
                let answer = try await client.check(requests[counter.next() % requests.count])
                if answer.allowed != expectAllowed { wrongAnswers.increment() }
            }
            let (rate, latency) = self.rate > 0
                ? try await OpenLoopLoad.measure(rate: self.rate, seconds: self.peer.seconds, operation)
                : try await ClosedLoopLoad.measure(concurrency: self.peer.concurrency, seconds: self.peer.seconds, operation)
            let load = self.rate > 0 ? String(format: "open loop at %.0f/s", self.rate) : "\(self.peer.concurrency) callers"
            print(
                String(
                    format: "limiter check (%@): %.0f checks/s, p50 %.0f us, p99 %.0f us, max %.0f us (%@, %d connection(s), %d keys, %d unexpected answers)",
                    self.mode.rawValue, rate, latency.p50, latency.p99, latency.max, load, self.peer.connections, self.keys, wrongAnswers.value
                )
            )
            group.cancelAll()
        }
    }
}
