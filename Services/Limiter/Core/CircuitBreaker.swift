/// Keeps a Redis outage from costing a timeout on every request.
///
/// Closed: every request goes to Redis; `failureThreshold` consecutive failures open the breaker.
/// Open: requests skip Redis (the policies' fallback decides at once) until `openDuration` has passed.
/// Half-open: one probe goes to Redis; success closes the breaker, failure opens it again.
/// A pure state machine: the caller passes the time and guards it with a lock.
package struct CircuitBreaker: Sendable {
    /// The breaker's state, for metrics (`0` closed, `1` open, `2` half-open).
    package enum State: Int, Sendable, Hashable {
        /// Requests go to Redis.
        case closed = 0
        /// Requests skip Redis.
        case open = 1
        /// One probe is under way.
        case halfOpen = 2
    }

    /// Consecutive failures that open the breaker.
    package let failureThreshold: Int
    /// How long the breaker stays open before it lets a probe through.
    package let openDuration: Duration

    /// The current state.
    package private(set) var state = State.closed
    private var consecutiveFailures = 0
    private var openedAt: ContinuousClock.Instant?

    /// Creates a closed breaker.
    /// - Parameters:
    ///   - failureThreshold: Consecutive failures that open it (default 5).
    ///   - openDuration: Time open before a probe (default 500 ms, so decisions return to Redis within
    ///     a second of it coming back).
    package init(failureThreshold: Int = 5, openDuration: Duration = .milliseconds(500)) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDuration = openDuration
    }

    /// Whether this request should try Redis; moves an expired open breaker to half-open and lets
    /// exactly one probe through.
    /// - Parameter now: The current time.
    package mutating func shouldTryRedis(now: ContinuousClock.Instant) -> Bool {
        switch self.state {
        case .closed:
            return true
        case .halfOpen:
            return false
        case .open:
            guard let openedAt = self.openedAt, now - openedAt >= self.openDuration else { return false }
            self.state = .halfOpen
            return true
        }
    }

    /// Redis answered: close the breaker.
    package mutating func recordSuccess() {
        self.state = .closed
        self.consecutiveFailures = 0
        self.openedAt = nil
    }

    /// Redis failed or timed out: count it, and open the breaker at the threshold or after a failed probe.
    /// - Parameter now: The current time.
    package mutating func recordFailure(now: ContinuousClock.Instant) {
        self.consecutiveFailures += 1
        if self.state == .halfOpen || self.consecutiveFailures >= self.failureThreshold {
            self.state = .open
            self.openedAt = now
        }
    }
}
