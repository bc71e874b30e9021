import EdgeRouterCore
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// The edge decides from units leased from the limiter: a busy key costs about one limiter call per lease,
/// and what it did not spend goes back.
@Suite(.timeLimit(.minutes(1)))
struct EdgeRateLimiterLeaseTests {
    static let catalog = try! PolicyCatalog(
        yaml: """
            policies:
              - {name: busy, limit: 1000000, period: 1h, key: [sub]}
              - {name: small, algorithm: token_bucket, limit: 10000, period: 1h, key: [sub]}
            """,
        source: "leases.yaml"
    )

    static let alice = PolicyKeyValues(ip: "127.0.0.1", subject: "alice")

    /// The `r` of a decision's `RateLimit` field.
    static func remaining(_ decision: EdgeRateLimiter.Decision) -> Int? {
        decision.headers.first { $0.name == "RateLimit" }.flatMap { field in
            field.value.split(separator: ";").first { $0.hasPrefix("r=") }.flatMap { Int($0.dropFirst(2)) }
        }
    }

    @Test func aBusyKeyIsDecidedLocallyWithAtMostOneCallPerHundredRequests() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, counts, _ in
            for index in 0..<5_000 {
                let decision = await gate.decide(policies: ["busy"], for: Self.alice, requestID: "r\(index)")
                #expect(decision.allowed)
            }
            let calls = counts.snapshot.values.reduce(0, +)
            #expect(calls <= 50, "5,000 requests took \(calls) limiter calls: \(counts.snapshot)")
            #expect(counts.snapshot[LimiterMethods.acquireBatch.name, default: 0] >= 1)
        }
    }

    @Test func unspentUnitsGoBackWhenTheEdgeStops() async throws {
        try await withEdgeLimiter(catalog: Self.catalog) { gate, counts, _ in
            let sweeper = Task { await gate.run() }
            let start = ContinuousClock.now
            for index in 0..<300 {
                #expect(await gate.decide(policies: ["small"], for: Self.alice, requestID: "r\(index)").allowed)
            }
            sweeper.cancel()
            await sweeper.value
            #expect(counts.snapshot[LimiterMethods.release.name, default: 0] >= 1)
            // The limiter's own count: 300 spent (a peek reports what its own cost of 1 would leave).
            let peeked = await gate.decide(policies: ["small"], for: Self.alice, requestID: "peek", charge: false)
            let remaining = try #require(Self.remaining(peeked))
            // The bucket refills 10,000 an hour (2.8 a second) while the test runs, slowly on a loaded machine.
            let elapsed = start.duration(to: .now).components
            let refilled = Int((Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18) * 10_000 / 3_600) + 1
            #expect(
                (10_000 - 301 - 1)...(10_000 - 301 + refilled) ~= remaining,
                "remaining \(remaining) after 300 spent, the rest returned and up to \(refilled) refilled"
            )
        }
    }
}
