import ArgumentParser
import GatehouseRPC
import Logging

/// The options of a load command that calls a Gatehouse service over RPC.
struct BenchPeerOptions: ParsableArguments {
    @Option(help: "Service host.") var host = "127.0.0.1"
    @Option(help: "Service RPC port.") var port: Int
    @Option(help: "Environment variable holding the service secret.") var secretEnv = "GATEHOUSE_RPC_SECRET"
    @Option(help: "Concurrent callers.") var concurrency = 64
    @Option(help: "Connections in the client's pool.") var connections = 2
    @Option(help: "Seconds to measure (after a 1 s warm-up).") var seconds = 10.0

    /// A client to the service (its `run()` must be started), logging warnings only.
    func client(label: String) throws -> RPCClient {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return RPCClient(
            configuration: RPCClientConfiguration(
                host: self.host,
                port: self.port,
                secret: try RPCSecret(benchSecret(from: self.secretEnv)),
                clientName: "gatehouse-bench",
                connections: self.connections,
                defaultCallTimeout: .seconds(10)
            ),
            logger: logger
        )
    }
}
