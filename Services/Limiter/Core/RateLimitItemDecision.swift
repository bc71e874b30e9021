/// What one ``RateLimitItem`` says about a request.
package struct RateLimitItemDecision: Sendable, Hashable {
    /// Whether this item alone admits the request. The request goes ahead only if every item admits it
    /// (``RateLimitDecision/allowed``).
    package let allowed: Bool
    /// The item's limit, for `RateLimit-Limit` style headers.
    package let limit: Int
    /// Units left: after this request when the whole decision allows it, otherwise as they are now
    /// (nothing is charged on a denial). Never negative.
    package let remaining: Int
    /// How long until the item is back to its full capacity (rounded up to the millisecond).
    package let resetAfter: Duration
    /// How long until this item would admit the same request again (rounded up to the millisecond); zero when
    /// it admits it now.
    package let retryAfter: Duration
    /// Units granted by a lease (``RedisRateLimiter/acquire(_:terms:)``: the cost and the extra units, debited
    /// already; 0 when denied), or credited back by a release; 0 for a check.
    package internal(set) var granted: Int = 0
    /// How long granted units may be spent, counted from when the lease was asked for; zero for a check.
    package internal(set) var lease: Duration = .zero
    /// The window the units were granted in (its start in Redis microseconds; 0 for the rate algorithms),
    /// which a release of them names.
    package internal(set) var epoch: Int64 = 0

    /// Creates a decision from its parts.
    ///
    /// - Parameters:
    ///   - allowed: Whether this item admits the request.
    ///   - limit: The item's limit.
    ///   - remaining: Units left.
    ///   - resetAfter: Time until full capacity.
    ///   - retryAfter: Time until the request would be admitted; zero when admitted.
    ///   - granted: Units granted or credited back (leases only).
    package init(allowed: Bool, limit: Int, remaining: Int, resetAfter: Duration, retryAfter: Duration, granted: Int = 0) {
        self.granted = granted
        self.allowed = allowed
        self.limit = limit
        self.remaining = remaining
        self.resetAfter = resetAfter
        self.retryAfter = retryAfter
    }
}
