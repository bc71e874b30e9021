import ArgumentParser
import GatehouseRPC
import Logging
import NIOCore
import NIOPosix
import SwiftProtobuf
import Foundation

/// `gatehouse-bench rpc-load`: calls bench.Echo from N concurrent callers for a fixed time and reports
/// calls/s and latency percentiles.
struct RPCLoadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rpc-load", abstract: "Load an rpc-server with echo calls.")

    @Option(help: "Server host.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int
    @Option(help: "Environment variable holding the service secret.") var secretEnv = "GATEHOUSE_RPC_SECRET"
    @Option(help: "Concurrent callers.") var concurrency = 64
    @Option(help: "Connections in the client's pool.") var connections = 1
    @Option(help: "Seconds to measure (after a 1 s warm-up).") var seconds = 10.0
    @Option(help: "Payload bytes per call.") var payloadBytes = 64

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
            let (rate, latency) = try await ClosedLoopLoad.measure(concurrency: self.concurrency, seconds: self.seconds) {
                _ = try await client.call(BenchMethods.echo, message)
            }
            print(
                String(
                    format: "rpc echo: %.0f calls/s, p50 %.0f us, p99 %.0f us, max %.0f us (%d calls, %d callers, %d connection(s), %d-byte payload)",
                    rate, latency.p50, latency.p99, latency.max, latency.count, self.concurrency, self.connections, self.payloadBytes
                )
            )
            group.cancelAll()
        }
    }
}
