/// How the limiter grants leases (`limiter.AcquireBatch`): how long they last and how large they may be.
///
/// The cap keeps the units held by all edges at once to a small share of each limit: with `maxSharePercent`
/// 5 and 4 live edges, a policy of 10,000 a minute leases at most 125 units to each edge (10,000 × 5% ÷ 4),
/// so at most 500 units (5%) sit unspent on edges at any moment, and a caller is refused at most that many
/// units early while others hold them. A lease is never smaller than the request's cost.
package struct LeaseSettings: Sendable, Equatable {
    /// The longest lease (`leases.period_ms`, default 1 s); leases of window algorithms also end with their
    /// window, those of rate algorithms when the budget would be full again.
    package var period: Duration
    /// The share of each limit all live edges may hold at once, in percent (`leases.max_share_percent`,
    /// default 5); 0 grants each request its cost alone.
    package var maxSharePercent: Int

    /// Creates settings.
    /// - Parameters:
    ///   - period: The longest lease.
    ///   - maxSharePercent: The share of each limit all live edges may hold at once, in percent.
    package init(period: Duration = .seconds(1), maxSharePercent: Int = 5) {
        self.period = period
        self.maxSharePercent = maxSharePercent
    }

    /// The most units one edge may hold for a policy of `limit`: the share divided among `liveEdges`, at
    /// least 1.
    package func cap(limit: Int, liveEdges: Int) -> Int {
        max(1, limit * self.maxSharePercent / (100 * max(1, liveEdges)))
    }
}
