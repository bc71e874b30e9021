/// A policy's numbers at one decision, enough to answer with headers later.
package struct PolicyStatusSnapshot: Sendable, Hashable {
    /// Units per period.
    package let limit: Int
    /// The period in whole seconds.
    package let windowSeconds: Int
    /// When the whole budget is back (the decision's reset), nothing being charged meanwhile.
    package let resetsAt: ContinuousClock.Instant

    /// Creates a snapshot.
    /// - Parameters:
    ///   - limit: Units per period.
    ///   - windowSeconds: The period in whole seconds.
    ///   - resetsAt: When the whole budget is back.
    package init(limit: Int, windowSeconds: Int, resetsAt: ContinuousClock.Instant) {
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.resetsAt = resetsAt
    }
}
