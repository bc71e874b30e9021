import GatehouseLimiterPolicies
import GatehouseRedis
import LimiterCore
import Logging
import Testing

@Suite("Rate-limit item validation")
struct RateLimitItemValidationTests {
    /// A limiter whose client points at a closed port and is never run: validation must fail before Redis is
    /// contacted, or the error would be a connection error instead.
    private let limiter = RedisRateLimiter(
        client: RedisClient(configuration: RedisConfiguration(port: 1), logger: Logger(label: "gatehouse.limiter.test")),
        logger: Logger(label: "gatehouse.limiter.test")
    )

    private func error(for items: [RateLimitItem]) async -> RateLimitItemError? {
        await #expect(throws: RateLimitItemError.self) {
            _ = try await self.limiter.check(items)
        }
    }

    private func item(
        key: String = "gh:{bad}:x",
        algorithm: RateLimitAlgorithm = .gcra,
        limit: Int = 10,
        period: Duration = .seconds(1),
        burst: Int? = nil,
        cost: Int = 1
    ) -> RateLimitItem {
        RateLimitItem(key: key, algorithm: algorithm, limit: limit, period: period, burst: burst, cost: cost)
    }

    @Test func rejectsAnEmptyList() async {
        let error = await self.error(for: [])
        #expect(error?.field == .items)
        #expect(error?.index == nil)
    }

    @Test func rejectsAZeroLimit() async {
        let error = await self.error(for: [self.item(limit: 0)])
        #expect(error?.field == .limit)
        #expect(error?.index == 0)
        #expect(error?.description.contains("limit") == true)
    }

    @Test func rejectsANegativeCost() async {
        let error = await self.error(for: [self.item(key: "gh:{bad}:a"), self.item(key: "gh:{bad}:b", cost: -1)])
        #expect(error?.field == .cost)
        #expect(error?.index == 1)
    }

    @Test func rejectsACostAboveTheCapacity() async {
        let error = await self.error(for: [self.item(burst: 3, cost: 4)])
        #expect(error?.field == .cost)
        let windowError = await self.error(for: [self.item(algorithm: .fixedWindow, limit: 3, burst: 10, cost: 4)])
        #expect(windowError?.field == .cost)
    }

    @Test func rejectsAPeriodBelowOneMillisecond() async {
        let error = await self.error(for: [self.item(period: .microseconds(999))])
        #expect(error?.field == .period)
    }

    @Test func rejectsAZeroBurst() async {
        let error = await self.error(for: [self.item(burst: 0)])
        #expect(error?.field == .burst)
    }

    @Test func rejectsAnEmptyOrRepeatedKey() async {
        let empty = await self.error(for: [self.item(key: "")])
        #expect(empty?.field == .key)
        let repeated = await self.error(for: [self.item(), self.item()])
        #expect(repeated?.field == .key)
        #expect(repeated?.index == 1)
    }

    @Test func rejectsInvalidItemsInPeekToo() async {
        await #expect(throws: RateLimitItemError.self) {
            _ = try await self.limiter.peek([self.item(limit: 0)])
        }
    }

    @Test func defaultsToGCRAWithBurstEqualToLimitAndCostOne() {
        let item = RateLimitItem(key: "k", limit: 7, period: .seconds(1))
        #expect(item.algorithm == .gcra)
        #expect(item.burst == 7)
        #expect(item.cost == 1)
        #expect(RateLimitAlgorithm.tokenBucket.rawValue == "token_bucket")
        #expect(RateLimitAlgorithm.slidingWindow.rawValue == "sliding_window")
        #expect(RateLimitAlgorithm.fixedWindow.rawValue == "fixed_window")
    }
}
