/// Exponential reconnect delays with jitter, bounded by the configured maximum.
struct ReconnectBackoff: Sendable {
    let initial: Duration
    let maximum: Duration

    init(configuration: RedisConfiguration) {
        self.initial = configuration.reconnectInitialBackoff
        self.maximum = max(configuration.reconnectMaximumBackoff, configuration.reconnectInitialBackoff)
    }

    /// The delay before attempt number `failures + 1`, after `failures` consecutive failures (at least 1).
    ///
    /// The nominal delay doubles per failure up to `maximum`; the returned delay is uniformly drawn from
    /// half to all of it, so that many clients do not reconnect in lockstep.
    func delay(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        let nominal = min(self.initial * (1 << doublings), self.maximum)
        return nominal * Double.random(in: 0.5...1.0)
    }
}
