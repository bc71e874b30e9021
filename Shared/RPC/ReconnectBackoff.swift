/// Exponential backoff with full jitter for reconnect attempts.
struct ReconnectBackoff: Sendable {
    /// The delay before the first retry.
    let initial: Duration
    /// The longest delay.
    let maximum: Duration

    /// Creates a backoff policy.
    /// - Parameters:
    ///   - initial: The delay bound for the first retry.
    ///   - maximum: The largest delay bound.
    init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before retry number `attempt` (0-based): random in `[bound/2, bound]`, where the bound
    /// doubles per attempt from ``initial`` up to ``maximum``.
    /// - Parameter attempt: How many attempts have failed before this one, minus one.
    /// - Returns: How long to wait.
    func delay(attempt: Int) -> Duration {
        let bound = min(self.maximum, self.initial * (1 << min(attempt, 20)))
        let nanoseconds = max(1, bound.components.seconds * 1_000_000_000 + bound.components.attoseconds / 1_000_000_000)
        return .nanoseconds(Int64.random(in: (nanoseconds / 2)...nanoseconds))
    }
}
