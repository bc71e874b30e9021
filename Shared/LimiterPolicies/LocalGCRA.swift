/// An in-process GCRA for the `local` fallback: while Redis is unreachable each limiter replica allows
/// `limit ÷ replicas` per period, so the replicas together stay near the configured limit. One counter per
/// policy and key, as in Redis: two policies with the same key value never share one.
///
/// Bounded like ``DenialCache``: at `capacity` keys it drops the ones that are fully replenished, and
/// if none are, it decides new keys as fresh without remembering them. A pure value: the caller passes
/// the time and guards it with a lock.
public struct LocalGCRA: Sendable {
    /// One decision.
    public struct Decision: Sendable, Hashable {
        /// Whether the request may spend its cost.
        public let allowed: Bool
        /// The local limit (`limit ÷ replicas`, at least 1).
        public let limit: Int
        /// Units left after this decision.
        public let remaining: Int
        /// Time until fully replenished.
        public let reset: Duration
        /// Time until the request would be allowed; zero when allowed.
        public let retryAfter: Duration
    }

    /// The most keys tracked.
    public let capacity: Int
    /// One policy's counter for one key.
    private struct Counter: Hashable {
        let policy: String
        let key: String
    }

    private var theoreticalArrival: [Counter: ContinuousClock.Instant] = [:]

    /// Creates an empty limiter.
    /// - Parameter capacity: The most keys tracked (default 100,000).
    public init(capacity: Int = 100_000) {
        self.capacity = max(1, capacity)
    }

    /// Decides and, when allowed, charges `cost` units of `policy` for `key`.
    /// - Parameters:
    ///   - policy: The policy (its limit, burst and period).
    ///   - key: The counter's key (the policy's key value).
    ///   - cost: Units to spend.
    ///   - replicas: Processes sharing the limit (the live edges, or limiters).
    ///   - now: The current time.
    /// - Returns: The decision.
    public mutating func check(
        policy: RateLimitPolicy,
        key: String,
        cost: Int,
        replicas: Int,
        now: ContinuousClock.Instant
    ) -> Decision {
        let limit = max(1, policy.limit / max(1, replicas))
        let burst = max(1, policy.burst / max(1, replicas))
        let interval = policy.period / limit
        let tolerance = interval * burst
        let counter = Counter(policy: policy.name, key: key)
        let arrival = max(self.theoreticalArrival[counter] ?? now, now)
        let newArrival = arrival + interval * cost
        let allowAt = newArrival - tolerance
        if allowAt > now {
            return Decision(
                allowed: false,
                limit: limit,
                remaining: 0,
                reset: arrival - now,
                retryAfter: allowAt - now
            )
        }
        if self.theoreticalArrival.count >= self.capacity, self.theoreticalArrival[counter] == nil {
            self.theoreticalArrival = self.theoreticalArrival.filter { $0.value > now }
        }
        if self.theoreticalArrival.count < self.capacity || self.theoreticalArrival[counter] != nil {
            self.theoreticalArrival[counter] = newArrival
        }
        let remaining = Int((tolerance - (newArrival - now)) / interval)
        return Decision(allowed: true, limit: limit, remaining: max(0, remaining), reset: newArrival - now, retryAfter: .zero)
    }
}
