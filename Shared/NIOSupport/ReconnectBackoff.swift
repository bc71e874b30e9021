/// Exponential reconnect delays with jitter, for every client that reconnects (RPC, Redis, pub/sub).
package struct ReconnectBackoff: Sendable {
    /// The nominal delay after the first failure.
    package let initial: Duration
    /// The largest nominal delay.
    package let maximum: Duration

    /// Creates a backoff policy.
    /// - Parameters:
    ///   - initial: The nominal delay after the first failure.
    ///   - maximum: The largest nominal delay (at least `initial`).
    package init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = max(maximum, initial)
    }

    /// The delay before attempt number `failures + 1`, after `failures` consecutive failures (at least 1).
    ///
    /// The nominal delay doubles per failure up to `maximum`; the returned delay is uniformly drawn from
    /// half to all of it, so that many clients do not reconnect in lockstep.
    package func delay(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        let nominal = min(self.initial * (1 << doublings), self.maximum)
        return nominal * Double.random(in: 0.5...1.0)
    }
}
