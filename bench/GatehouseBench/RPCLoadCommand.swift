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
            // Wait for the pool, then warm up.
            try await Self.load(client: client, request: message, concurrency: self.concurrency, for: .seconds(1), record: false)
            let start = ContinuousClock.now
            let recorders = try await Self.load(
                client: client,
                request: message,
                concurrency: self.concurrency,
                for: .milliseconds(Int(self.seconds * 1000)),
                record: true
            )
            let elapsed = ContinuousClock.now - start
            let summary = LatencyRecorder.summary(recorders)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                String(
                    format: "rpc echo: %.0f calls/s, p50 %.0f us, p99 %.0f us, max %.0f us (%d calls, %d callers, %d connection(s), %d-byte payload)",
                    Double(summary.count) / seconds, summary.p50, summary.p99, summary.max, summary.count,
                    self.concurrency, self.connections, self.payloadBytes
                )
            )
            group.cancelAll()
        }
    }

    @discardableResult
    static func load(
        client: RPCClient,
        request: Google_Protobuf_BytesValue,
        concurrency: Int,
        for duration: Duration,
        record: Bool
    ) async throws -> [LatencyRecorder] {
        let end = ContinuousClock.now + duration
        return try await withThrowingTaskGroup(of: LatencyRecorder.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var recorder = LatencyRecorder(reservingCapacity: record ? 200_000 : 0)
                    var started = ContinuousClock.now
                    while started < end {
                        _ = try await client.call(BenchMethods.echo, request)
                        let finished = ContinuousClock.now
                        if record { recorder.record(finished - started) }
                        started = finished
                    }
                    return recorder
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}
