import GatehouseLimiterPolicies

/// One rate-limit policy to decide for one caller: which state (``key``), which algorithm and which budget.
///
/// Several items are decided together by ``RedisRateLimiter``, all or nothing. Values are checked when they
/// are decided (see ``RateLimitItemError`` for the accepted ranges), not when the item is created.
package struct RateLimitItem: Sendable, Hashable {
    /// The full Redis key holding this counter's state, built by the caller (the limiter's is
    /// `gh:<policy>:{<key value>}`, `LimiterDecider.redisKey`).
    ///
    /// Items decided together must live on one Redis Cluster slot to run on a cluster: give their keys the
    /// same hash tag. One key serves one algorithm: do not reuse it with another.
    package var key: String
    /// How the budget is enforced.
    package var algorithm: RateLimitAlgorithm
    /// How many units are allowed per ``period``; greater than 0.
    package var limit: Int
    /// The period the ``limit`` applies to; at least 1 ms.
    package var period: Duration
    /// The capacity: how many units may be used at once after a quiet spell (for ``RateLimitAlgorithm/gcra``
    /// and ``RateLimitAlgorithm/tokenBucket``; the window algorithms' capacity is ``limit``). Greater than 0.
    package var burst: Int
    /// How many units this request uses; 0 asks without using any. At most the capacity, since a larger cost
    /// could never be allowed.
    package var cost: Int

    /// Creates an item.
    ///
    /// - Parameters:
    ///   - key: The full Redis key of this counter's state.
    ///   - algorithm: How the budget is enforced; GCRA by default.
    ///   - limit: Units allowed per `period`.
    ///   - period: The period `limit` applies to.
    ///   - burst: The capacity; `nil` means `limit`.
    ///   - cost: Units this request uses; 1 by default.
    package init(
        key: String,
        algorithm: RateLimitAlgorithm = .gcra,
        limit: Int,
        period: Duration,
        burst: Int? = nil,
        cost: Int = 1
    ) {
        self.key = key
        self.algorithm = algorithm
        self.limit = limit
        self.period = period
        self.burst = burst ?? limit
        self.cost = cost
    }
}
