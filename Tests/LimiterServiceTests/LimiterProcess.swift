import Foundation
import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import Logging
import Testing

let serviceSecret = "limiter-test-secret-0123456789"

/// A folder for one test's files (policy file, logs), removed afterwards.
final class TestFolder: Sendable {
    let url: URL

    init() throws {
        self.url = FileManager.default.temporaryDirectory.appendingPathComponent("gatehouse-limiter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String {
        self.url.appendingPathComponent(name).path
    }

    func write(_ name: String, _ text: String) throws {
        // Write-then-rename, as editors and config management do, so a reader never sees half a file.
        let temporary = self.path(".\(name).tmp")
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, self.path(name)) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: self.path(name)])
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }
}

/// The `limiter` executable as a child process with JSON logs, on ports it chose itself, and an RPC client to it.
final class LimiterProcess: Sendable {
    let process: ServiceProcess
    let rpcPort: Int
    let adminPort: Int

    /// Starts `limiter` with the policy file `policies` and further `LIMITER_*` variables, and waits until it listens.
    init(folder: TestFolder, redisPort: Int, name: String = "limiter", environment: [String: String] = [:]) async throws {
        var variables = [
            "LIMITER_RPC_SECRET": serviceSecret,
            "LIMITER_RPC_PORT": "0",
            "LIMITER_ADMIN_PORT": "0",
            "LIMITER_REDIS_PORT": "\(redisPort)",
            "LIMITER_POLICIES_FILE": folder.path("policies.yaml"),
            "LIMITER_LOG_FORMAT": "json",
        ]
        variables.merge(environment) { $1 }
        self.process = try ServiceProcess.start(product: "limiter", environment: variables, logPath: folder.path("\(name).log"))
        let listening = try await self.process.waitForLog(message: "limiter listening")
        self.rpcPort = try #require(Int(listening["rpc.port"] as? String ?? ""))
        self.adminPort = try #require(Int(listening["admin.port"] as? String ?? ""))
    }

    /// The admin server's `/metrics` text.
    func metrics() throws -> String {
        try httpGet(port: self.adminPort, path: "/metrics").body
    }

    /// Runs `body` with an RPC client connected to this limiter.
    func withClient<T: Sendable>(connections: Int = 2, _ body: (RPCClient) async throws -> T) async throws -> T {
        try await withClients([self], connections: connections) { try await body($0[0]) }
    }
}

/// Runs `body` with one RPC client per limiter process.
func withClients<T: Sendable>(
    _ limiters: [LimiterProcess],
    connections: Int = 2,
    _ body: ([RPCClient]) async throws -> T
) async throws -> T {
    var logger = Logger(label: "test.limiter-client")
    logger.logLevel = .critical
    let secret = try RPCSecret(serviceSecret)
    let clients = limiters.map { limiter in
        RPCClient(
            configuration: RPCClientConfiguration(
                host: "127.0.0.1",
                port: limiter.rpcPort,
                secret: secret,
                clientName: "limiter-test",
                connections: connections,
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

extension RPCClient {
    /// `limiter.Check` of one item.
    func check(caller: String = "test", policy: String, key: String, cost: UInt32? = nil, timeout: Duration = .seconds(10)) async throws -> Gatehouse_Limiter_CheckResponse {
        try await self.check(caller: caller, [(policy, key, cost)], timeout: timeout)
    }

    /// `limiter.Check` of several items, decided together.
    func check(caller: String = "test", _ items: [(policy: String, key: String, cost: UInt32?)], timeout: Duration = .seconds(10)) async throws -> Gatehouse_Limiter_CheckResponse {
        var request = Gatehouse_Limiter_CheckRequest()
        request.caller = caller
        request.items = items.map { item in
            var checkItem = Gatehouse_Limiter_CheckItem()
            checkItem.policy = item.policy
            checkItem.key = item.key
            if let cost = item.cost { checkItem.cost = cost }
            return checkItem
        }
        return try await self.call(LimiterMethods.check, request, timeout: timeout)
    }
}
