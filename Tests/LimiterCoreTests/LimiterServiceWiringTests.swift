import GatehouseLimiterAPI
import GatehouseObservability
import GatehouseRPC
import GatehouseTestSupport
import LimiterCore
import Testing

/// The limiter wired by `LimiterService.make` as the executable wires it, run in process on port 0.
@Suite struct LimiterServiceWiringTests {
    @Test func answersChecksOverRPCAndShutsDownGracefully() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try folder.write("policies.yaml", "policies:\n  - {name: public, limit: 2, period: 1h, key: [ip]}\n")
        let secret = "limiter-wiring-secret-0123456789"
        let yaml = """
            rpc: {port: 0, secret: \(secret)}
            admin: {port: 0}
            redis: {port: \(redis.port)}
            policies: {file: \(folder.path("policies.yaml"))}
            """
        // A connection left open: a port number may be reused by another test at once, an accepted
        // connection is this server's alone.
        var connection: RawTCPConnection?
        try await withInProcessService(LimiterService.self, yaml: yaml) { limiter in
            let rpcPort = try await limiter.rpcPort()
            let ready = try await httpGetOffPool(port: try await limiter.adminPort(), path: "/readyz")
            #expect(ready.status == 200, "\(ready.body)")
            let allowed = try await withRPCClients(ports: [rpcPort], secret: secret) { clients in
                var outcomes: [Bool] = []
                for _ in 0..<3 {
                    let request = LimiterRequest(caller: "test", items: [LimiterRequest.Item(policy: "public", key: "198.51.100.7")])
                    outcomes.append(try await LimiterClient(rpc: clients[0]).check(request).allowed)
                }
                return outcomes
            }
            #expect(allowed == [true, true, false], "the policy's limit of 2, counted in Redis")
            connection = try RawTCPConnection(port: rpcPort)
        }
        #expect(connection?.waitForClose(timeout: .seconds(5)) != nil, "the RPC server closed its connections on shutdown")
    }
}
