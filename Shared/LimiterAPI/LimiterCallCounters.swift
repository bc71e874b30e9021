import Metrics

/// Counters of the calls a ``LimiterClient``'s batched requests make, for a caller that exports them (the edge's
/// `gatehouse_edge_limiter_calls_total{method}`).
public struct LimiterCallCounters: Sendable {
    /// Counts each `limiter.AcquireBatch` call.
    public var acquire: Counter
    /// Counts each `limiter.Check` and `limiter.CheckBatch` call to a limiter without leases.
    public var check: Counter

    /// Creates the counters.
    public init(acquire: Counter, check: Counter) {
        self.acquire = acquire
        self.check = check
    }
}
