import GatehouseLimiterPolicies
import GatehouseRedis
import GatehouseTestSupport
import LimiterCore
import Logging
import Testing

/// Leases on a Redis Cluster: concurrent grants for counters on every primary (batched, one script call per
/// hash slot) never take a counter past its limit, and released units are credited back where they were taken.
@Suite(.timeLimit(.minutes(3)))
struct RedisRateLimiterClusterLeaseTests {
    @Test func concurrentLeasesOnEveryPrimaryStayWithinEachLimitAndReleasesCreditBack() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        let client = RedisClient(
            configuration: RedisConfiguration(
                topology: .cluster(seeds: cluster.seeds.compactMap { RedisServerAddress(parsing: $0) }),
                connectTimeout: .seconds(5),
                commandTimeout: .seconds(5)
            ),
            logger: Logger(label: "gatehouse.limiter.test")
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            let limiter = RedisRateLimiter(client: client, logger: Logger(label: "gatehouse.limiter.test"))
            for algorithm in allAlgorithms {
                let items = (0..<24).map { caller in
                    RateLimitItem(key: "gh:lease:{caller-\(caller)}:\(algorithm.rawValue)", algorithm: algorithm, limit: 30, period: .seconds(3600))
                }
                // 20 concurrent acquires per counter, each for its cost and up to 5 more units.
                let grants = try await withThrowingTaskGroup(of: (Int, RateLimitItemDecision).self) { grants in
                    for (index, item) in items.enumerated() {
                        for _ in 0..<20 {
                            grants.addTask {
                                let decision = try await limiter.acquire([item], extras: [5], fleetSize: 1, leasePeriod: .seconds(60))
                                return (index, decision.items[0])
                            }
                        }
                    }
                    return try await grants.reduce(into: []) { $0.append($1) }
                }
                for (index, item) in items.enumerated() {
                    let granted = grants.filter { $0.0 == index }.map(\.1)
                    let total = granted.reduce(0) { $0 + $1.granted }
                    #expect(total > 0 && total <= item.limit, "\(algorithm) granted \(total) units of \(item.limit) for \(item.key)")
                    // Every unit granted goes back.
                    var credited = 0
                    for grant in granted where grant.granted > 0 {
                        var returned = item
                        returned.cost = grant.granted
                        credited += try await limiter.release([returned], epochs: [grant.epoch])[0]
                    }
                    // A rate algorithm never credits past a full budget: the fraction of a unit it regained since
                    // the grant (a unit per 2 minutes here) rounds one unit away.
                    let least = algorithm == .gcra || algorithm == .tokenBucket ? total - 1 : total
                    #expect(credited >= least && credited <= total, "\(algorithm) credited \(credited) of \(total) back for \(item.key)")
                }
            }
        }
    }
}
