import GatehouseLimiterPolicies
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Testing

/// Leases (`acquire` and `release` in the rate-limit script): grants are debits, so what is granted never
/// exceeds what checks would have allowed, and unspent units go back.
@Suite("RedisRateLimiter leases", .timeLimit(.minutes(1)))
struct RedisRateLimiterLeaseTests {
    @Test(arguments: allAlgorithms)
    func grantsAreDebitsAndNeverExceedTheLimit(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            let item = RateLimitItem(key: "gh:{lease}:\(algorithm.rawValue)", algorithm: algorithm, limit: 100, period: .seconds(3600))
            var granted = 0
            var grants = 0
            while true {
                let decision = try await limiter.acquire([item], extras: [30], fleetSize: 1, leasePeriod: .seconds(1))
                guard decision.allowed else {
                    #expect(decision.items[0].granted == 0)
                    #expect(decision.items[0].retryAfter > .zero)
                    break
                }
                #expect(decision.items[0].granted >= 1 && decision.items[0].granted <= 31)
                granted += decision.items[0].granted
                grants += 1
                #expect(grants < 200, "the grants never ran out")
            }
            // Every unit granted was debited: the limit is never exceeded, and a check now is refused.
            #expect(granted == 100, "\(algorithm) granted \(granted) units of a limit of 100")
            #expect(try await limiter.check([item]).allowed == false)
        }
    }

    @Test(arguments: allAlgorithms)
    func grantsShrinkToTheCostNearTheLimit(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            let item = RateLimitItem(key: "gh:{shrink}:\(algorithm.rawValue)", algorithm: algorithm, limit: 40, period: .seconds(3600))
            // Four edges: extra units are at most an eighth of what would be left after the cost.
            let first = try await limiter.acquire([item], extras: [1000], fleetSize: 4, leasePeriod: .seconds(1))
            #expect(first.items[0].granted == 1 + 39 / 8)
            var sizes: [Int] = []
            while true {
                let decision = try await limiter.acquire([item], extras: [1000], fleetSize: 4, leasePeriod: .seconds(1))
                guard decision.allowed else { break }
                sizes.append(decision.items[0].granted)
            }
            #expect(sizes.suffix(7).allSatisfy { $0 == 1 }, "the last units go out one at a time: \(sizes)")
            #expect(first.items[0].granted + sizes.reduce(0, +) == 40)
        }
    }

    @Test func aRequestIsGrantedAllOrNothing() async throws {
        try await withRateLimiter { limiter, _, _ in
            let open = RateLimitItem(key: "gh:{aon}:open", limit: 50, period: .seconds(3600))
            let spent = RateLimitItem(key: "gh:{aon}:spent", algorithm: .fixedWindow, limit: 1, period: .seconds(3600))
            #expect(try await limiter.check([spent]).allowed)
            let decision = try await limiter.acquire([open, spent], extras: [10, 10], fleetSize: 1, leasePeriod: .seconds(1))
            #expect(!decision.allowed)
            #expect(decision.items.map(\.granted) == [0, 0])
            // Nothing of the open policy was debited.
            #expect(try await limiter.peek([open]).items[0].remaining == 49)
        }
    }

    @Test func aWindowLeaseEndsWithItsWindowAndARateLeaseWithItsPeriod() async throws {
        try await withRateLimiter { limiter, client, _ in
            let window = RateLimitItem(key: "gh:{ends}:fixed", algorithm: .fixedWindow, limit: 1000, period: .seconds(2))
            let now = try await client.serverMicroseconds()
            let decision = try await limiter.acquire([window], extras: [10], fleetSize: 1, leasePeriod: .seconds(30))
            let windowStart = now - now % 2_000_000
            #expect(decision.items[0].epoch == Int64(windowStart) || decision.items[0].epoch == Int64(windowStart + 2_000_000))
            #expect(decision.items[0].lease <= .seconds(2))
            let rate = RateLimitItem(key: "gh:{ends}:gcra", limit: 1000, period: .seconds(1))
            let rateDecision = try await limiter.acquire([rate], extras: [10], fleetSize: 1, leasePeriod: .seconds(30))
            #expect(rateDecision.items[0].epoch == 0)
            // A GCRA lease lasts until the budget is full again: 11 units at 1 ms each.
            #expect(rateDecision.items[0].lease <= .milliseconds(11))
            let capped = try await limiter.acquire([RateLimitItem(key: "gh:{ends}:long", limit: 10, period: .seconds(3600))],
                extras: [5], fleetSize: 1, leasePeriod: .milliseconds(700))
            #expect(capped.items[0].lease == .milliseconds(700))
        }
    }

    @Test(arguments: allAlgorithms)
    func unspentUnitsGoBackAndCanBeGrantedAgain(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            let item = RateLimitItem(key: "gh:{back}:\(algorithm.rawValue)", algorithm: algorithm, limit: 20, period: .seconds(3600))
            let decision = try await limiter.acquire([item], extras: [9], fleetSize: 1, leasePeriod: .seconds(1))
            #expect(decision.items[0].granted == 10)
            // A peek reports what would be left after its own cost of 1.
            #expect(try await limiter.peek([item]).items[0].remaining == 9)
            var returned = item
            returned.cost = 6
            let credited = try await limiter.release([returned], epochs: [decision.items[0].epoch])
            #expect(credited == [6])
            #expect(try await limiter.peek([item]).items[0].remaining == 15)
        }
    }

    @Test(arguments: allAlgorithms)
    func returnsNeverRaiseABudgetBeyondItsCapacity(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, _, _ in
            let item = RateLimitItem(key: "gh:{cap}:\(algorithm.rawValue)", algorithm: algorithm, limit: 20, period: .seconds(3600))
            let decision = try await limiter.acquire([item], extras: [4], fleetSize: 1, leasePeriod: .seconds(1))
            #expect(decision.items[0].granted == 5)
            var returned = item
            returned.cost = 20
            _ = try await limiter.release([returned], epochs: [decision.items[0].epoch])
            #expect(try await limiter.peek([item]).items[0].remaining == 19)
        }
    }

    @Test(arguments: [RateLimitAlgorithm.fixedWindow, .slidingWindow])
    func aWindowsUnitsAreNotCreditedToTheNextWindow(algorithm: RateLimitAlgorithm) async throws {
        try await withRateLimiter { limiter, client, _ in
            let key = "gh:{next}:\(algorithm.rawValue)"
            let item = RateLimitItem(key: key, algorithm: algorithm, limit: 10, period: .seconds(1))
            // Start early in a window so the lease and the release fall in one window.
            let now = try await client.serverMicroseconds()
            try await Task.sleep(for: .microseconds(1_000_000 - now % 1_000_000 + 5_000))
            let decision = try await limiter.acquire([item], extras: [4], fleetSize: 1, leasePeriod: .seconds(1))
            #expect(decision.items[0].granted == 5)
            try await Task.sleep(for: .milliseconds(1_050))
            // The next window has begun and counted a request: the old window's units must not be credited to it.
            // The stored counts are compared, not `remaining`, which a sliding window raises as time passes.
            #expect(try await limiter.check([item]).allowed)
            let before = try await client.storedFields(key)
            #expect(!before.isEmpty, "the key holds no state")
            var returned = item
            returned.cost = 5
            let credited = try await limiter.release([returned], epochs: [decision.items[0].epoch])
            #expect(credited == [0], "units of an ended window were credited to the next")
            #expect(try await client.storedFields(key) == before)
        }
    }
}

extension RedisClient {
    /// The fields of the hash at `key` (`HGETALL`), as text.
    fileprivate func storedFields(_ key: String) async throws -> [String: String] {
        let reply = try #require(try await self.send(["HGETALL", key]).array)
        var fields: [String: String] = [:]
        for index in stride(from: 0, to: reply.count - 1, by: 2) {
            fields[reply[index].string ?? ""] = reply[index + 1].string ?? ""
        }
        return fields
    }
}
