import ArgumentParser
import GatehouseRPC
import Logging
import NIOCore
import NIOPosix
import SwiftProtobuf
import Foundation

/// `gatehouse-bench rpc-load`: calls bench.Echo from N concurrent callers (closed loop) or at a fixed rate
/// (open loop) for a fixed time and reports calls/s and latency percentiles.
struct RPCLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rpc-load", abstract: "Load an rpc-server with echo calls.")

    @Option(help: "Server host.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int
    @Option(help: "Environment variable holding the service secret.") var secretEnv = "GATEHOUSE_RPC_SECRET"
    @Option(help: "Concurrent callers.") var concurrency = 64
    @Option(help: "Connections in the client's pool.") var connections = 1
    @Option(help: "Seconds to measure (after a 1 s warm-up).") var seconds = 10.0
    @Option(help: "Payload bytes per call.") var payloadBytes = 64
    @Option(help: "Calls per second (open loop); 0: closed loop with --concurrency callers.") var rate = 0.0

    func run() async throws {
        let configuration = RPCClientConfiguration(
            host: self.host,
            port: self.port,
            secret: try RPCSecret(benchSecret(from: self.secretEnv)),
            clientName: "gatehouse-bench",
            connections: self.connections
        )
        var logger = Logger(label: "gatehouse-bench.rpc-load")
        logger.logLevel = .warning
        let client = RPCClient(configuration: configuration, logger: logger)
        var request = Google_Protobuf_BytesValue()
        request.value = Data(repeating: 0x61, count: self.payloadBytes)
        let message = request

        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            let operation: @Sendable () async throws -> Void = { _ = try await client.call(BenchMethods.echo, message) }
            let (rate, latency) = self.rate > 0
                ? try await OpenLoopLoad.measure(rate: self.rate, seconds: self.seconds, operation)
                : try await ClosedLoopLoad.measure(concurrency: self.concurrency, seconds: self.seconds, operation)
            let load = self.rate > 0 ? String(format: "open loop at %.0f/s", self.rate) : "\(self.concurrency) callers"
            print(
                String(
                    format: "rpc echo: %.0f calls/s, p50 %.0f us, p99 %.0f us, max %.0f us (%d calls, %@, %d connection(s), %d-byte payload)",
                    rate, latency.p50, latency.p99, latency.max, latency.count, load, self.connections, self.payloadBytes
                )
            )
            group.cancelAll()
        }
    }
}
