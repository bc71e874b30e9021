/// How a policy counts requests; each is one atomic Lua script over one Redis key per caller.
public enum RateLimitAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Generic cell rate algorithm (as redis-cell's `CL.THROTTLE`): exact, smooth, one timestamp per key.
    case gcra
    /// A bucket of `burst` tokens refilled at `limit` per `period`, fractionally.
    case tokenBucket = "token_bucket"
    /// The two-window weighted counter: O(1), approximate (bounded error).
    case slidingWindow = "sliding_window"
    /// A counter per aligned window of `period`.
    case fixedWindow = "fixed_window"
}
