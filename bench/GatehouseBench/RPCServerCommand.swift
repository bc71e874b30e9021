import ArgumentParser
import GatehouseRedis
import GatehouseRPC
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals
import SwiftProtobuf
import Foundation

/// `gatehouse-bench rpc-server`: an RPC server with echo and sleep methods, the peer for the RPC load
/// benchmark. With `--redis-port`, each echo first waits for a batched script call in that Redis
/// (``RedisRoundTripEcho``): the control for the limiter's tail.
struct RPCServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rpc-server", abstract: "Serve bench.Echo and bench.Sleep.")

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0: any free port, printed on start).") var port = 0
    @Option(help: "Environment variable holding the service secret.") var secretEnv = "GATEHOUSE_RPC_SECRET"
    @Option(help: "A Redis on 127.0.0.1 that each echo waits for a batched script call in (none: a plain echo).") var redisPort: Int?

    func run() async throws {
        let secret = try RPCSecret(benchSecret(from: self.secretEnv))
        var logger = Logger(label: "gatehouse-bench.rpc-server")
        logger.logLevel = .warning
        let redis = self.redisPort.map { RedisClient(configuration: RedisConfiguration(port: $0), logger: logger) }
        var handlers = RPCHandlerRegistry()
        if let redis {
            let echo = RedisRoundTripEcho(redis: redis)
            handlers.register(BenchMethods.echo) { request, _ in
                try await echo.roundTrip()
                return request
            }
        } else {
            handlers.register(BenchMethods.echo) { request, _ in request }
        }
        handlers.register(BenchMethods.sleep) { request, _ in
            try await Task.sleep(for: .milliseconds(request.value))
            return request
        }
        let server = RPCServer(
            configuration: RPCServerConfiguration(host: self.host, port: self.port, secret: secret),
            handlers: handlers,
            logger: logger
        )
        var services: [any Service] = [server]
        if let redis { services.append(redis) }
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await withThrowingTaskGroup { tasks in
            tasks.addTask { try await group.run() }
            let port = try await server.localPort()
            // Unbuffered, so a parent process reading a pipe sees it at once.
            FileHandle.standardOutput.write(Data("listening on \(self.host):\(port)\n".utf8))
            try await tasks.waitForAll()
        }
    }
}

/// The service secret from the named environment variable, or a fixed development secret.
func benchSecret(from variable: String) -> String {
    ProcessInfo.processInfo.environment[variable] ?? "gatehouse-bench-development-secret"
}
