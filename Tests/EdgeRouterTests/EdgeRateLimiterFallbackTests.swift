import EdgeRouterCore
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseTestSupport
import Logging
import Testing

/// While the limiter cannot be asked, or refuses a check, the edge decides by the policies' `on_redis_failure`.
@Suite(.timeLimit(.minutes(1)))
struct EdgeRateLimiterFallbackTests {
    static let policies = try! PolicyCatalog(
        yaml: """
            replicas: 2
            policies:
              - {name: open, limit: 10, period: 1m, key: [ip]}
              - {name: closed, limit: 10, period: 1m, key: [ip], on_redis_failure: deny}
              - {name: shared, limit: 4, period: 1m, key: [sub], on_redis_failure: local}
              - {name: per_route, limit: 2, period: 1m, key: [sub, route], on_redis_failure: local}
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
            try await body(EdgeRateLimiter(limiter: LimiterClient(rpc: client), policies: Self.policies, logger: logger))
            group.cancelAll()
        }
    }

    static let anonymous = PolicyKeyValues(ip: "127.0.0.1", role: "anonymous")

    static func subject(_ name: String, route: String = "/v1/{collection}") -> PolicyKeyValues {
        PolicyKeyValues(ip: "127.0.0.1", subject: name, role: "user", route: route, method: "GET")
    }

    @Test func denyRefusesForASecondAndNamesThePolicy() async throws {
        try await Self.withUnreachableLimiter { gate in
            let decision = await gate.decide(policies: ["open", "closed"], for: Self.anonymous, requestID: "r1")
            #expect(!decision.allowed)
            #expect(decision.deniedBy == "closed")
            #expect(decision.retryAfterSeconds == 1)
            #expect(decision.headers.first { $0.name == "RateLimit-Policy" }?.value == #""open";q=10;w=60, "closed";q=10;w=60"#)
        }
    }

    @Test func allowLetsThroughAndLocalAllowsTheLimitDividedByTheReplicas() async throws {
        try await Self.withUnreachableLimiter { gate in
            #expect(await gate.decide(policies: ["open"], for: Self.anonymous, requestID: "r1").allowed)
            // limit 4 a minute shared by 2 replicas: 2 here, then refused until the local counter refills (one per 30 s).
            var outcomes: [Bool] = []
            for index in 0..<3 {
                outcomes.append(await gate.decide(policies: ["shared"], for: Self.subject("alice"), requestID: "r\(index)").allowed)
            }
            #expect(outcomes == [true, true, false])
            let refused = await gate.decide(policies: ["shared"], for: Self.subject("alice"), requestID: "r4")
            #expect(refused.deniedBy == "shared")
            #expect((29...31).contains(refused.retryAfterSeconds), "\(refused.retryAfterSeconds)")
            // Another subject has its own local counter.
            #expect(await gate.decide(policies: ["shared"], for: Self.subject("bob"), requestID: "r5").allowed)
        }
    }

    @Test func aPeekIsLetThrough() async throws {
        try await Self.withUnreachableLimiter { gate in
            #expect(await gate.decide(policies: ["closed"], for: Self.anonymous, requestID: "r1", charge: false).allowed)
        }
    }

    /// `local` counts per policy and key value, as the limiter does: a `[sub, route]` policy exhausted on one
    /// route leaves the caller's other routes alone.
    @Test func localCountsPerKeyValueSoOneRouteLeavesAnotherAlone() async throws {
        try await Self.withUnreachableLimiter { gate in
            // limit 2 a minute shared by 2 replicas: 1 here per subject and route.
            #expect(await gate.decide(policies: ["per_route"], for: Self.subject("alice"), requestID: "r1").allowed)
            #expect(!(await gate.decide(policies: ["per_route"], for: Self.subject("alice"), requestID: "r2").allowed))
            #expect(await gate.decide(policies: ["per_route"], for: Self.subject("alice", route: "/v1/{collection}/{id}"), requestID: "r3").allowed)
        }
    }

    /// A policy the limiter's own file lacks makes the limiter refuse the check (`INVALID_ARGUMENT`): the edge
    /// decides it by the policy's fallback, never lets it through unchecked, and counts it.
    @Test func aCheckTheLimiterRefusesFollowsThePolicysFallback() async throws {
        let limiterPolicies = try PolicyCatalog(yaml: "policies:\n  - {name: open, limit: 10, period: 1m, key: [ip]}\n", source: "limiter.yaml")
        try await withEdgeLimiter(catalog: limiterPolicies, edgeCatalog: Self.policies) { gate, _, _ in
            let refused = await gate.decide(policies: ["closed"], for: Self.anonymous, requestID: "r1")
            #expect(!refused.allowed, "closed says deny when the limiter cannot decide")
            #expect(refused.deniedBy == "closed")
            #expect(refused.retryAfterSeconds == 1)
            var outcomes: [Bool] = []
            for index in 0..<3 {
                outcomes.append(await gate.decide(policies: ["shared"], for: Self.subject("carol"), requestID: "s\(index)").allowed)
            }
            #expect(outcomes == [true, true, false], "shared says local: 4 ÷ 2 replicas")
            #expect(!(await gate.decide(policies: ["open", "closed"], for: Self.anonymous, requestID: "r2").allowed), "one unknown policy refuses the whole check")
        }
    }
}
