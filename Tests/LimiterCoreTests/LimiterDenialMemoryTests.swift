import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// The limiter client's memory of denials (``LimiterClient/acquire(_:traceID:)``,
/// ``LimiterClient/rememberedDenial(of:at:)``) against the limiter's own decider behind a real RPC server on a
/// real redis-server: a denied (policy, key) is answered with no call until its retry-after has passed.
@Suite(.timeLimit(.minutes(1)))
struct LimiterDenialMemoryTests {
    static func request(_ policy: String, key: String) -> LimiterRequest {
        LimiterRequest(caller: "test", items: [LimiterRequest.Item(policy: policy, key: key, cost: 1)])
    }

    @Test func aDeniedKeyIsAnsweredFromMemoryWithNoCallAndOtherKeysStillAsk() async throws {
        try await LimiterCallBatcherTests.withLimiter { limiter, counts in
            for _ in 0..<20 { _ = try await limiter.acquire(Self.request("user", key: "alice")).get() }
            let denied = try await limiter.acquire(Self.request("user", key: "alice")).get()
            #expect(!denied.allowed && denied.source == .redis)
            let callsBefore = counts.snapshot.values.reduce(0, +)

            let repeated = try await limiter.acquire(Self.request("user", key: "alice")).get()
            #expect(counts.snapshot.values.reduce(0, +) == callsBefore, "the repeat was answered from the client's memory")
            #expect(!repeated.allowed && repeated.source == .denialCache)
            let status = repeated.statuses[0]
            #expect(status.policy == "user" && status.limit == 20 && status.windowSeconds == 3600 && status.remaining == 0 && status.granted == 0)
            // 20 an hour: the next unit in 180 s, remembered for the whole seconds the caller is told.
            #expect((175_000...180_000).contains(status.retryAfterMilliseconds), "\(status)")
            #expect(status.resetMilliseconds > 3_590_000 && status.resetMilliseconds <= 3_600_000, "\(status)")
            #expect(limiter.remembersDenial(policy: "user", key: "alice", at: .now))
            #expect(!limiter.remembersDenial(policy: "user", key: "bob", at: .now) && !limiter.remembersDenial(policy: "ip", key: "alice", at: .now))
            #expect(limiter.rememberedDenial(of: Self.request("user", key: "alice"), at: .now + .seconds(181)) == nil, "forgotten after its retry-after")
            #expect(!limiter.remembersDenial(policy: "user", key: "alice", at: .now + .seconds(181)))

            #expect(limiter.rememberedDenial(of: Self.request("user", key: "bob"), at: .now) == nil)
            #expect(try await limiter.acquire(Self.request("user", key: "bob")).get().allowed)
            #expect(counts.snapshot.values.reduce(0, +) == callsBefore + 1, "another key of the policy asks the limiter")
        }
    }

    @Test func aRequestWithADeniedItemIsDeniedFromMemoryAndItsOtherItemsAreNotConsulted() async throws {
        try await LimiterCallBatcherTests.withLimiter { limiter, _ in
            for _ in 0..<21 { _ = try await limiter.acquire(Self.request("user", key: "alice")).get() }
            let both = LimiterRequest(
                caller: "test", items: [LimiterRequest.Item(policy: "user", key: "bob", cost: 1), LimiterRequest.Item(policy: "user", key: "alice", cost: 1)]
            )
            let answer = try #require(limiter.rememberedDenial(of: both, at: .now))
            #expect(!answer.allowed && answer.decidingIndex == 1)
            #expect(answer.statuses[0].allowed && answer.statuses[0].policy == "user" && answer.statuses[0].limit == 0, "bob was not consulted")
            #expect(!answer.statuses[1].allowed && answer.statuses[1].retryAfterMilliseconds > 0)
        }
    }

    @Test func aDenialTheCallerDecidedItselfIsRememberedAlike() async throws {
        try await withUnreachableRPCClient(secret: LimiterCallBatcherTests.secret) { rpc in
            let limiter = LimiterClient(rpc: rpc)
            let request = Self.request("user", key: "alice")
            var status = LimiterDecision.PolicyStatus()
            (status.policy, status.allowed, status.limit, status.windowSeconds) = ("user", false, 20, 3600)
            status.retryAfterMilliseconds = 400
            let start = ContinuousClock.now
            limiter.remember(LimiterDecision(allowed: false, statuses: [status], source: .fallbackDeny), answering: request, at: start)
            let remembered = try #require(limiter.rememberedDenial(of: request, at: start + .milliseconds(500)), "kept for the whole second told")
            #expect(remembered.source == .denialCache && remembered.statuses[0].retryAfterMilliseconds == 500)
            // An acquire of it is answered from memory: the unreachable limiter is not asked.
            let acquired = try await limiter.acquire(request).get()
            #expect(!acquired.allowed && acquired.source == .denialCache)
            #expect(limiter.rememberedDenial(of: request, at: start + .seconds(1)) == nil)
        }
    }
}
