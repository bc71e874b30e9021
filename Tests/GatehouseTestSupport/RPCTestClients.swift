import GatehouseRPC
import Logging

/// Runs `body` with one RPC client per port (each with its `run()` going), all with `secret`; stops them afterwards.
public func withRPCClients<T: Sendable>(
    ports: [Int],
    secret: String,
    connections: Int = 2,
    _ body: ([RPCClient]) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test.rpc-client")
    logger.logLevel = .critical
    let rpcSecret = try RPCSecret(secret)
    let clients = ports.map { port in
        RPCClient(
            configuration: RPCClientConfiguration(
                host: "127.0.0.1",
                port: port,
                secret: rpcSecret,
                clientName: "test",
                connections: connections,
                // A loaded suite can take longer than the default second to connect.
                connectTimeout: .seconds(10),
                defaultCallTimeout: .seconds(10)
            ),
            logger: logger
        )
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for client in clients {
            group.addTask { try await client.run() }
        }
        defer { group.cancelAll() }
        return try await body(clients)
    }
}

/// Runs `body` with an RPC client (its `run()` going) of a loopback port nobody listens on, which gives a
/// connect or a call up after 2 seconds.
public func withUnreachableRPCClient<T: Sendable>(secret: String, _ body: (RPCClient) async throws -> T) async throws -> T {
    var logger = Logger(label: "test.rpc-client")
    logger.logLevel = .critical
    let client = RPCClient(
        configuration: RPCClientConfiguration(
            host: "127.0.0.1", port: try freeLoopbackPort(), secret: try RPCSecret(secret), connectTimeout: .seconds(2), defaultCallTimeout: .seconds(2)
        ),
        logger: logger
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}

/// Runs `body` with a client (its `run()` going) of a real RPC server on a free loopback port that answers
/// `handlers` only; stops both afterwards.
/// - Parameters:
///   - handlers: The methods the server answers (a method left out is answered as unknown, as an older server does).
///   - secret: The service secret of both.
///   - callTimeout: The client's call timeout.
public func withRPCServer<T: Sendable>(
    _ handlers: RPCHandlerRegistry, secret: String, callTimeout: Duration = .seconds(10), _ body: (RPCClient) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test.rpc-server")
    logger.logLevel = .critical
    let rpcSecret = try RPCSecret(secret)
    let server = RPCServer(configuration: RPCServerConfiguration(secret: rpcSecret), handlers: handlers, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let client = RPCClient(
            configuration: RPCClientConfiguration(
                host: "127.0.0.1", port: try await server.localPort(), secret: rpcSecret, connectTimeout: .seconds(10), defaultCallTimeout: callTimeout
            ),
            logger: logger
        )
        group.addTask { try await client.run() }
        defer { group.cancelAll() }
        return try await body(client)
    }
}
