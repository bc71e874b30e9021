import EdgeRouterCore
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseTestSupport
import Logging
import Testing

/// While the limiter cannot be asked, the edge decides by the policies' `on_redis_failure`.
@Suite(.timeLimit(.minutes(1)))
struct EdgeRateLimiterFallbackTests {
    static let policies = try! PolicyCatalog(
        yaml: """
            replicas: 2
            policies:
              - {name: open, limit: 10, period: 1m, key: [ip]}
              - {name: closed, limit: 10, period: 1m, key: [ip], on_redis_failure: deny}
              - {name: shared, limit: 4, period: 1m, key: [sub], on_redis_failure: local}
            """,
        source: "fallback.yaml"
    )

    /// An edge gate whose limiter is a loopback port nobody listens on (connections are refused).
    static func withUnreachableLimiter(_ body: @Sendable (EdgeRateLimiter) async throws -> Void) async throws {
        var logger = Logger(label: "test.edge-limiter")
        logger.logLevel = .critical
        let client = RPCClient(
            configuration: RPCClientConfiguration(host: "127.0.0.1", port: try freeLoopbackPort(), secret: try RPCSecret("fallback-test-secret-0123456789")),
            logger: logger
        )
        try await withThrowingTaskGroup { group in
            group.addTask { try await client.run() }
            try await body(EdgeRateLimiter(limiter: client, logger: logger))
            group.cancelAll()
        }
    }

    @Test func withoutAFallbackFileEveryRequestIsLetThroughWithoutHeaders() async throws {
        try await Self.withUnreachableLimiter { gate in
            let decision = await gate.decide(policies: ["closed"], caller: "ip:127.0.0.1", requestID: "r1")
            #expect(decision.allowed)
            #expect(decision.headers.isEmpty)
        }
    }

    @Test func denyRefusesForASecondAndNamesThePolicy() async throws {
        try await Self.withUnreachableLimiter { gate in
            gate.replaceFallbackPolicies(Self.policies)
            let decision = await gate.decide(policies: ["open", "closed"], caller: "ip:127.0.0.1", requestID: "r1")
            #expect(!decision.allowed)
            #expect(decision.deniedBy == "closed")
            #expect(decision.retryAfterSeconds == 1)
            #expect(decision.headers.first { $0.name == "RateLimit-Policy" }?.value == #""open";q=10;w=60, "closed";q=10;w=60"#)
        }
    }

    @Test func allowLetsThroughAndLocalAllowsTheLimitDividedByTheReplicas() async throws {
        try await Self.withUnreachableLimiter { gate in
            gate.replaceFallbackPolicies(Self.policies)
            #expect(await gate.decide(policies: ["open"], caller: "ip:127.0.0.1", requestID: "r1").allowed)
            // limit 4 a minute shared by 2 replicas: 2 here, then refused until the local counter refills (one per 30 s).
            var outcomes: [Bool] = []
            for index in 0..<3 {
                outcomes.append(await gate.decide(policies: ["shared"], caller: "alice", requestID: "r\(index)").allowed)
            }
            #expect(outcomes == [true, true, false])
            let refused = await gate.decide(policies: ["shared"], caller: "alice", requestID: "r4")
            #expect(refused.deniedBy == "shared")
            #expect((29...31).contains(refused.retryAfterSeconds), "\(refused.retryAfterSeconds)")
            // Another subject has its own local counter.
            #expect(await gate.decide(policies: ["shared"], caller: "bob", requestID: "r5").allowed)
        }
    }

    @Test func aPeekOrAPolicyTheFileDoesNotNameIsLetThrough() async throws {
        try await Self.withUnreachableLimiter { gate in
            gate.replaceFallbackPolicies(Self.policies)
            #expect(await gate.decide(policies: ["closed"], caller: "ip:127.0.0.1", requestID: "r1", charge: false).allowed)
            #expect(await gate.decide(policies: ["unknown"], caller: "ip:127.0.0.1", requestID: "r2").allowed)
        }
    }
}
