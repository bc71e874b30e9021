import GatehouseLimiterAPI
import GatehouseRPC
import GatehouseTestSupport
import LimiterCore
import Logging
import Testing

/// ``LimiterClient`` against the limiter wired by `LimiterService.make`, run in process on a real
/// redis-server: its domain answers, and the RPC failures its callers see as ``LimiterClientError``s.
@Suite struct LimiterClientTests {
    static let secret = "limiter-client-secret-0123456789"

    /// Runs `body` with a client of a limiter whose policies are `public` (2 an hour per address) and
    /// `leased` (20 an hour per address).
    func withLimiter(_ body: @Sendable (LimiterClient) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try folder.write(
            "policies.yaml",
            """
            policies:
              - {name: public, limit: 2, period: 1h, key: [ip]}
              - {name: leased, limit: 20, period: 1h, key: [ip]}

            """
        )
        let yaml = """
            rpc: {port: 0, secret: \(Self.secret)}
            admin: {port: 0}
            redis: {port: \(redis.port)}
            policies: {file: \(folder.path("policies.yaml"))}
            """
        try await withInProcessService(LimiterService.self, yaml: yaml) { limiter in
            try await withRPCClients(ports: [try await limiter.rpcPort()], secret: Self.secret) { clients in
                try await body(LimiterClient(rpc: clients[0]))
            }
        }
    }

    /// Runs `body` with a client of an RPC server that serves `handlers` only, its calls timing out after 300 ms.
    func withServer(_ handlers: RPCHandlerRegistry, _ body: @Sendable (LimiterClient) async throws -> Void) async throws {
        try await withRPCServer(handlers, secret: Self.secret, callTimeout: .milliseconds(300)) { rpc in try await body(LimiterClient(rpc: rpc)) }
    }

    static func request(_ policy: String, key: String = "198.51.100.7", extra: Int = 0) -> LimiterRequest {
        LimiterRequest(caller: "test", items: [LimiterRequest.Item(policy: policy, key: key, extra: extra)])
    }

    @Test func checksChargeAndDenyWithTheDecidingPolicysState() async throws {
        try await self.withLimiter { limiter in
            let peeked = try await limiter.peek(Self.request("public"))
            #expect(peeked.allowed && peeked.statuses[0].remaining == 1, "a peek reports what its cost would leave")
            let first = try await limiter.check(Self.request("public"))
            #expect(first.allowed && first.source == .redis)
            #expect(first.statuses[0].policy == "public" && first.statuses[0].limit == 2 && first.statuses[0].remaining == 1)
            #expect(first.statuses[0].windowSeconds == 3600 && first.statuses[0].retryAfterMilliseconds == 0)
            #expect(try await limiter.check(Self.request("public")).allowed, "the peek charged nothing")
            let denied = try await limiter.check(Self.request("public"))
            #expect(!denied.allowed && denied.decidingIndex == 0 && denied.statuses[0].remaining == 0)
            #expect(denied.statuses[0].retryAfterMilliseconds > 0 && denied.statuses[0].resetMilliseconds > 0)
        }
    }

    @Test func aPolicyTheLimiterLacksIsRefusedAsInvalid() async throws {
        try await self.withLimiter { limiter in
            let error = await #expect(throws: LimiterClientError.self) { try await limiter.check(Self.request("no_such_policy")) }
            #expect(error?.reason == .refused, "\(String(describing: error))")
            let outcomes = try await limiter.checkBatch([Self.request("public"), Self.request("no_such_policy")])
            #expect(try outcomes[0].get().allowed, "one request's error does not affect the others")
            guard case .failure(let refused) = outcomes[1] else {
                Issue.record("the unknown policy was decided: \(outcomes[1])")
                return
            }
            #expect(refused.reason == .refused, "\(refused)")
        }
    }

    @Test func leasesAreGrantedAndUnspentUnitsCreditedBack() async throws {
        try await self.withLimiter { limiter in
            let answer = try await limiter.acquireBatch([Self.request("leased", extra: 9)])
            #expect(answer.leasePeriodMilliseconds > 0)
            let grant = try answer.outcomes[0].get().statuses[0]
            #expect(grant.allowed && grant.granted >= 1 && grant.granted <= 10 && grant.leaseMilliseconds > 0, "\(grant)")
            let unspent = Int(grant.granted) - 1
            let credited = try await limiter.release([LimiterRelease(policy: "leased", key: "198.51.100.7", units: unspent, epoch: grant.epoch)])
            #expect(credited == unspent)
            #expect(try await limiter.peek(Self.request("leased")).statuses[0].remaining == 18, "1 of 20 spent, the peek's own cost of 1")
        }
    }

    @Test func aLimiterWithoutTheMethodIsAnOlderOne() async throws {
        var handlers = RPCHandlerRegistry()
        handlers.register(LimiterMethods.check) { _, _ in Gatehouse_Limiter_CheckResponse() }
        try await self.withServer(handlers) { limiter in
            let error = await #expect(throws: LimiterClientError.self) { try await limiter.acquireBatch([Self.request("public")]) }
            #expect(error?.reason == .methodUnknown, "\(String(describing: error))")
        }
    }

    @Test func noAnswerWithinTheTimeoutIsTimedOut() async throws {
        var handlers = RPCHandlerRegistry()
        handlers.register(LimiterMethods.check) { _, _ in
            try await Task.sleep(for: .seconds(3))
            return Gatehouse_Limiter_CheckResponse()
        }
        try await self.withServer(handlers) { limiter in
            let error = await #expect(throws: LimiterClientError.self) { try await limiter.check(Self.request("public")) }
            #expect(error?.reason == .timedOut, "\(String(describing: error))")
        }
    }

    @Test func aLimiterNobodyListensForIsUnreachable() async throws {
        try await withUnreachableRPCClient(secret: Self.secret) { rpc in
            let error = await #expect(throws: LimiterClientError.self) { try await LimiterClient(rpc: rpc).check(Self.request("public")) }
            #expect(error?.reason == .unreachable, "\(String(describing: error))")
        }
    }
}
