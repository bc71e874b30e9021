/// One named rate limit from the policy file: how much, per what, and how it is counted.
public struct RateLimitPolicy: Sendable, Hashable {
    /// The largest accepted ``limit``, ``burst`` and ``cost``; keeps the limiter script's floating-point
    /// arithmetic exact.
    public static let maximumCount = 1_000_000_000

    /// The unique name, used in tiers, metrics, logs and the `RateLimit-Policy` header.
    public var name: String
    /// How requests are counted.
    public var algorithm: RateLimitAlgorithm
    /// Units allowed per ``period``.
    public var limit: Int
    /// The window (or refill period) the limit applies to.
    public var period: Duration
    /// The most units that may be spent at once; ``limit`` unless configured.
    public var burst: Int
    /// Units one request spends unless the caller says otherwise.
    public var cost: Int
    /// The request parts whose values identify the counter.
    public var key: [PolicyKeyPart]
    /// Decide and count, log and measure, but always allow.
    public var shadow: Bool
    /// What to decide when Redis cannot answer in time.
    public var onRedisFailure: RedisFailureMode

    /// Creates a policy.
    /// - Parameters:
    ///   - name: The unique name.
    ///   - algorithm: How requests are counted (default `gcra`).
    ///   - limit: Units per period.
    ///   - period: The period.
    ///   - burst: Units that may be spent at once (default: `limit`).
    ///   - cost: Units per request (default 1).
    ///   - key: Request parts identifying the counter.
    ///   - shadow: Count but always allow (default `false`).
    ///   - onRedisFailure: Decision when Redis cannot answer (default `allow`).
    public init(
        name: String,
        algorithm: RateLimitAlgorithm = .gcra,
        limit: Int,
        period: Duration,
        burst: Int? = nil,
        cost: Int = 1,
        key: [PolicyKeyPart],
        shadow: Bool = false,
        onRedisFailure: RedisFailureMode = .allow
    ) {
        self.name = name
        self.algorithm = algorithm
        self.limit = limit
        self.period = period
        self.burst = burst ?? limit
        self.cost = cost
        self.key = key
        self.shadow = shadow
        self.onRedisFailure = onRedisFailure
    }
}
