import Foundation
import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import Logging
import Testing

let serviceSecret = "limiter-test-secret-0123456789"

/// The `limiter` executable as a child process with JSON logs, on ports it chose itself, and an RPC client to it.
final class LimiterProcess: Sendable {
    let process: ServiceProcess
    /// Holds the policy file and the log; kept as long as the process is.
    let folder: TestFolder
    let rpcPort: Int
    let adminPort: Int

    /// Starts `limiter` with the policy file `policies` and further `LIMITER_*` variables, and waits until it listens.
    init(folder: TestFolder, redisPort: Int, name: String = "limiter", environment: [String: String] = [:]) async throws {
        let variables = limiterEnvironment(folder: folder, redisPort: redisPort).merging(["LIMITER_LOG_FORMAT": "json"]) { $1 }
            .merging(environment) { $1 }
        self.folder = folder
        self.process = try ServiceProcess.start(product: "limiter", environment: variables, logPath: folder.path("\(name).log"))
        let listening = try await self.process.waitForLog(message: "limiter listening")
        self.rpcPort = try #require(Int(listening["rpc.port"] as? String ?? ""))
        self.adminPort = try #require(Int(listening["admin.port"] as? String ?? ""))
    }

    /// Starts `count` limiters on a Redis Cluster (`redis.mode: cluster`, every node a seed), with the policy
    /// file in `folder` and connect and command timeouts long enough for bursts on a small, loaded machine (a
    /// connection to a live node that took over the default 250 ms sent checks to their fallback). A stopped
    /// node refuses connections at once, so failover is not slowed.
    static func start(_ count: Int, on cluster: RedisClusterProcess, folder: TestFolder) async throws -> [LimiterProcess] {
        var limiters: [LimiterProcess] = []
        for index in 0..<count {
            limiters.append(
                try await LimiterProcess(
                    folder: folder,
                    redisPort: 0,
                    name: "limiter-\(index)",
                    environment: [
                        "LIMITER_REDIS_MODE": "cluster",
                        // redis.port is refused in cluster mode; empty counts as unset.
                        "LIMITER_REDIS_PORT": "",
                        "LIMITER_REDIS_CLUSTER_SEEDS": cluster.seeds.joined(separator: ","),
                        "LIMITER_REDIS_CONNECT_TIMEOUT_MS": "5000",
                        "LIMITER_REDIS_COMMAND_TIMEOUT_MS": "10000",
                    ]
                )
            )
        }
        return limiters
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

/// What the limiter under test is configured with: the policy file `folder/policies.yaml`, Redis at
/// `redisPort`, the test secret, ports of its own choice, and a Redis command timeout long enough for a
/// loaded CI machine (the default 50 ms sent a batch's checks to their fallback there). A test of the
/// timeout itself sets `LIMITER_REDIS_COMMAND_TIMEOUT_MS` again.
func limiterEnvironment(folder: TestFolder, redisPort: Int) -> [String: String] {
    [
        "LIMITER_REDIS_COMMAND_TIMEOUT_MS": "10000",
        "LIMITER_RPC_SECRET": serviceSecret,
        "LIMITER_RPC_PORT": "0",
        "LIMITER_ADMIN_PORT": "0",
        "LIMITER_REDIS_PORT": "\(redisPort)",
        "LIMITER_POLICIES_FILE": folder.path("policies.yaml"),
    ]
}

/// Runs `body` with one RPC client per limiter process.
func withClients<T: Sendable>(
    _ limiters: [LimiterProcess],
    connections: Int = 2,
    _ body: ([RPCClient]) async throws -> T
) async throws -> T {
    try await withRPCClients(ports: limiters.map(\.rpcPort), secret: serviceSecret, connections: connections, body)
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
