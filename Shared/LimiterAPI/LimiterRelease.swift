/// Lease units a caller did not spend, to credit back (`limiter.Release`).
public struct LimiterRelease: Sendable, Equatable {
    /// The policy the units were granted for.
    public var policy: String
    /// The key value they were granted for.
    public var key: String
    /// Units to credit back; never more than were granted and not spent.
    public var units: Int
    /// The grant's ``LimiterDecision/PolicyStatus/epoch``: units of a window are credited only while it lasts.
    public var epoch: UInt64

    /// Creates a release.
    public init(policy: String, key: String, units: Int, epoch: UInt64) {
        self.policy = policy
        self.key = key
        self.units = units
        self.epoch = epoch
    }
}
