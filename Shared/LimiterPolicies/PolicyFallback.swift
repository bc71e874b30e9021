import GatehouseLimiterAPI

/// What the policies decide by themselves when the counters cannot be asked: at the limiter while Redis
/// is unreachable or slow, at the edge while the limiter is. Each policy's `on_redis_failure` says how:
/// `allow`, `deny` (retry after `denyRetryAfter`), or `local` (a ``LocalGCRA`` at limit ÷ replicas).
///
/// `local` items are charged one by one, not all or nothing. A value: the owner guards it with a lock.
public struct PolicyFallback: Sendable {
    /// One policy to decide for one caller.
    public struct Item: Sendable {
        /// The policy.
        public var policy: RateLimitPolicy
        /// The counter's key: the policy's key value (``PolicyKeyValues``), or the limiter's Redis key of it.
        /// `local` keeps one counter per policy and key.
        public var key: String
        /// Units to spend.
        public var cost: Int

        /// Creates an item.
        public init(policy: RateLimitPolicy, key: String, cost: Int) {
            self.policy = policy
            self.key = key
            self.cost = cost
        }
    }

    /// The answer, and for each item whether it was denied but allowed because its policy is in shadow mode.
    public struct Outcome: Sendable {
        /// The decision as the limiter answers it (`source` one of the `fallback*` cases).
        public var response: Gatehouse_Limiter_CheckResponse
        /// Per item: denied, but allowed because of shadow mode.
        public var shadowDenied: [Bool]

        /// The decision as a limiter client hands it to its caller.
        public var decision: LimiterDecision { LimiterDecision(self.response) }
    }

    private var local: LocalGCRA

    /// Creates a fallback whose `local` counters track at most `capacity` keys.
    public init(capacity: Int = 100_000) {
        self.local = LocalGCRA(capacity: capacity)
    }

    /// Decides `items` by their policies' fallbacks.
    /// - Parameters:
    ///   - items: The policies, keys and costs of one request.
    ///   - replicas: Processes that share each limit (the `local` share is limit ÷ replicas).
    ///   - denyRetryAfter: The retry-after of a `deny` fallback (until the counters are asked again).
    ///   - now: The current time.
    public mutating func decide(_ items: [Item], replicas: Int, denyRetryAfter: Duration, now: ContinuousClock.Instant) -> Outcome {
        var source = Gatehouse_Limiter_DecisionSource.fallbackAllow
        var shadowDenied = [Bool](repeating: false, count: items.count)
        var statuses: [Gatehouse_Limiter_PolicyStatus] = []
        statuses.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            var status = Gatehouse_Limiter_PolicyStatus(policy: item.policy)
            switch item.policy.onRedisFailure {
            case .allow:
                status.allowed = true
                status.remaining = UInt32(clamping: item.policy.limit)
            case .deny:
                source = .fallbackDeny
                status.allowed = item.policy.shadow
                shadowDenied[index] = item.policy.shadow
                status.retryAfterMs = UInt64(denyRetryAfter.wholeMilliseconds)
            case .local:
                if source != .fallbackDeny { source = .fallbackLocal }
                let decision = self.local.check(policy: item.policy, key: item.key, cost: item.cost, replicas: replicas, now: now)
                shadowDenied[index] = item.policy.shadow && !decision.allowed
                status.allowed = decision.allowed || item.policy.shadow
                status.limit = UInt32(clamping: decision.limit)
                status.remaining = UInt32(clamping: decision.remaining)
                status.resetMs = UInt64(decision.reset.wholeMilliseconds)
                status.retryAfterMs = UInt64(decision.retryAfter.wholeMilliseconds)
            }
            statuses.append(status)
        }
        return Outcome(
            response: Gatehouse_Limiter_CheckResponse(allowed: statuses.allSatisfy(\.allowed), statuses: statuses, source: source),
            shadowDenied: shadowDenied
        )
    }
}

extension Gatehouse_Limiter_PolicyStatus {
    /// A status naming `policy`, its limit and window, and its shadow mode; the decision is for the caller to fill in.
    public init(policy: RateLimitPolicy) {
        self.init()
        self.policy = policy.name
        self.limit = UInt32(clamping: policy.limit)
        self.windowSeconds = UInt32(clamping: max(1, Int(policy.period.components.seconds)))
        self.shadow = policy.shadow
    }
}

extension Gatehouse_Limiter_CheckResponse {
    /// An answer whose deciding status is the first denial, else the one with the least remaining.
    public init(allowed: Bool, statuses: [Gatehouse_Limiter_PolicyStatus], source: Gatehouse_Limiter_DecisionSource) {
        self.init()
        self.allowed = allowed
        self.statuses = statuses
        self.source = source
        self.decidingIndex = UInt32(LimiterDecision.decidingIndex(allowed: allowed, statuses: statuses, remaining: \.remaining, isAllowed: \.allowed))
    }
}
