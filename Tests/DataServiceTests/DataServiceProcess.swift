import DataServiceCore
import Foundation
import GatehouseDataAPI
import GatehouseEvents
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

let dataSecret = "data-test-secret-0123456789abcd"

/// The `data-service` executable as a child process with JSON logs, for the tests whose point is the
/// process: what it logs, its metrics, how it exits, a restart after `SIGKILL`.
final class DataServiceProcess: Sendable {
    let process: ServiceProcess
    let endpoint: DataServiceEndpoint
    let adminPort: Int

    /// Starts `data-service` on the database `folder/db/documents.sqlite` and waits until it listens.
    init(folder: TestFolder, redisPort: Int, rpcPort: Int = 0, name: String = "data-service", environment: [String: String] = [:]) async throws {
        let variables = dataServiceEnvironment(folder: folder, redisPort: redisPort, rpcPort: rpcPort)
            .merging(["DATA_LOG_FORMAT": "json", "DATA_ADMIN_PORT": "0"]) { $1 }.merging(environment) { $1 }
        self.process = try ServiceProcess.start(product: "data-service", environment: variables, logPath: folder.path("\(name).log"))
        let listening = try await self.process.waitForLog(message: "data service listening")
        self.endpoint = DataServiceEndpoint(rpcPort: try #require(Int(listening["rpc.port"] as? String ?? "")))
        self.adminPort = try #require(Int(listening["admin.port"] as? String ?? ""))
    }

    func metrics() throws -> String {
        try httpGet(port: self.adminPort, path: "/metrics").body
    }
}

/// What the data service under test is configured with: the database `folder/db/documents.sqlite`, Redis
/// at `redisPort`, the test secret.
func dataServiceEnvironment(folder: TestFolder, redisPort: Int, rpcPort: Int = 0) -> [String: String] {
    [
        "DATA_RPC_SECRET": dataSecret,
        "DATA_RPC_PORT": "\(rpcPort)",
        "DATA_ADMIN_PORT": "0",
        "DATA_REDIS_PORT": "\(redisPort)",
        "DATA_REDIS_CONNECT_TIMEOUT_MS": "200",
        "DATA_STORAGE_PATH": folder.path("db/documents.sqlite"),
    ]
}

/// Runs the data service in process (its wiring, `DataService`) configured as ``dataServiceEnvironment(folder:redisPort:rpcPort:)``
/// plus `environment` for the length of `body`, then shuts it down gracefully.
func withDataService<T: Sendable>(
    folder: TestFolder, redisPort: Int, environment: [String: String] = [:], _ body: (DataServiceEndpoint) async throws -> T
) async throws -> T {
    try await withInProcessService(DataService.self, environment: dataServiceEnvironment(folder: folder, redisPort: redisPort).merging(environment) { $1 }) { service in
        try await body(DataServiceEndpoint(rpcPort: try await service.rpcPort()))
    }
}

/// The data service's RPC port, and clients of it.
struct DataServiceEndpoint: Sendable {
    let rpcPort: Int

    func withClient<T: Sendable>(_ body: (RPCClient) async throws -> T) async throws -> T {
        try await withRPCClients(ports: [self.rpcPort], secret: dataSecret) { try await body($0[0]) }
    }

    /// Runs `body` with a client of one connection that accepts answers of at most `maximumFrameBytes`, patient
    /// enough (30 s a call) for megabytes through debug builds on a loaded machine.
    func withClient<T: Sendable>(maximumFrameBytes: Int, _ body: (RPCClient) async throws -> T) async throws -> T {
        var logger = Logger(label: "test.rpc-client")
        logger.logLevel = .critical
        let client = RPCClient(
            configuration: RPCClientConfiguration(
                host: "127.0.0.1", port: self.rpcPort, secret: try RPCSecret(dataSecret), clientName: "test", connections: 1,
                maximumFrameBytes: maximumFrameBytes, connectTimeout: .seconds(10), defaultCallTimeout: .seconds(30)
            ),
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }
}

extension RPCClient {
    func put(_ collection: String, _ id: String, _ body: String, ifVersion: Int64? = nil) async throws -> Gatehouse_Data_WriteResponse {
        var request = Gatehouse_Data_PutRequest()
        request.collection = collection
        request.id = id
        request.body = body
        if let ifVersion { request.ifVersion = ifVersion }
        return try await self.call(DataMethods.put, request)
    }

    func get(_ collection: String, _ id: String) async throws -> Gatehouse_Data_Document {
        var request = Gatehouse_Data_GetRequest()
        request.collection = collection
        request.id = id
        return try await self.call(DataMethods.get, request).document
    }
}

/// The invalidation channel's events, in the order received.
struct InvalidationCollector: Sendable {
    private let channel: RedisChannelCollector

    init(redisPort: Int) {
        self.channel = RedisChannelCollector(redisPort: redisPort, channel: InvalidationMessage.defaultChannel)
    }

    /// A collector signed in as the observer user of `server` (``RedisChannelCollector/init(observing:channel:)``).
    init(observing server: RedisServerProcess) {
        self.channel = RedisChannelCollector(observing: server, channel: InvalidationMessage.defaultChannel)
    }

    init(redis: RedisConfiguration) {
        self.channel = RedisChannelCollector(redis: redis, channel: InvalidationMessage.defaultChannel)
    }

    /// Every event of every message so far.
    var events: [InvalidationMessage.Event] {
        self.channel.messages.flatMap { (try? InvalidationMessage(jsonText: $0))?.events ?? [] }
    }

    /// How often the subscription was re-established after a drop.
    var resubscriptions: Int { self.channel.resubscriptions }

    /// Runs `body` while subscribed (after the subscription is confirmed).
    func whileSubscribed<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await self.channel.whileSubscribed(body)
    }

    /// Waits until the subscription has been re-established after a drop.
    func waitForResubscription(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while self.resubscriptions == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until the event of `version` arrived.
    func waitUntilEvent(version: Int64, timeout: Duration = .seconds(20)) async throws {
        try await self.channel.waitUntil(timeout: timeout) { messages in
            messages.contains { (try? InvalidationMessage(jsonText: $0))?.events.contains { $0.version == version } ?? false }
        }
    }

    /// Waits until at least `count` events arrived.
    func waitForEvents(_ count: Int, timeout: Duration = .seconds(20)) async throws {
        try await self.channel.waitUntil(timeout: timeout) { messages in
            messages.reduce(0) { $0 + ((try? InvalidationMessage(jsonText: $1))?.events.count ?? 0) } >= count
        }
    }
}
