/// The limiter's answer to a batch of lease requests (``LimiterClient/acquireBatch(_:)``).
public struct LimiterLeaseAnswer: Sendable {
    /// One per request, in request order: its decision, granted units included, or why it was not decided.
    public var outcomes: [Result<LimiterDecision, LimiterClientError>]
    /// The live edges the limiter counts (its lease caps share the limit among them).
    public var liveEdges: Int
    /// The longest lease the limiter grants, in milliseconds (`leases.period_ms`).
    public var leasePeriodMilliseconds: UInt64
}
