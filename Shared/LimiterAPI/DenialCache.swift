/// Remembers denied (policy, key) pairs until their retry-after passes, so a client that keeps
/// hammering after a 429 is answered without a Redis round trip at the limiter (envoyproxy/ratelimit's
/// over-limit cache), and without a limiter call at a caller using ``LimiterClient/acquire(_:traceID:)``.
///
/// Bounded: at `capacity` entries it first drops expired ones; if none expired it stops remembering
/// new denials (Redis still decides them correctly, just less cheaply). A pure value: the caller
/// passes the time and guards it with a lock.
package struct DenialCache: Sendable {
    /// A remembered denial.
    package struct Denial: Sendable, Hashable {
        /// When the denial ends.
        package let until: ContinuousClock.Instant
        /// The policy's status at the time of the denial (limit, window, reset).
        package let status: PolicyStatusSnapshot
    }

    /// The most denials remembered.
    package let capacity: Int
    private var denials: [DenialKey: Denial] = [:]

    /// Creates an empty cache.
    /// - Parameter capacity: The most denials remembered (default 100,000; `0` turns the cache off).
    package init(capacity: Int = 100_000) {
        self.capacity = max(0, capacity)
    }

    /// How many denials are remembered.
    package var count: Int { self.denials.count }

    /// The denial in force for `policy` and `key`, if any; forgets it once it has ended.
    /// - Parameters:
    ///   - policy: The policy name.
    ///   - key: The key value the policy counts.
    ///   - now: The current time.
    package mutating func denial(policy: String, key: String, now: ContinuousClock.Instant) -> Denial? {
        let denialKey = DenialKey(policy: policy, key: key)
        guard let denial = self.denials[denialKey] else { return nil }
        guard denial.until > now else {
            self.denials.removeValue(forKey: denialKey)
            return nil
        }
        return denial
    }

    /// Remembers a denial until `until`.
    /// - Parameters:
    ///   - policy: The policy name.
    ///   - key: The key value the policy counts.
    ///   - until: When the retry-after passes.
    ///   - status: The policy's status at the denial.
    ///   - now: The current time.
    package mutating func remember(policy: String, key: String, until: ContinuousClock.Instant, status: PolicyStatusSnapshot, now: ContinuousClock.Instant) {
        let denialKey = DenialKey(policy: policy, key: key)
        if self.denials.count >= self.capacity, self.denials[denialKey] == nil {
            self.denials = self.denials.filter { $0.value.until > now }
            guard self.denials.count < self.capacity else { return }
        }
        self.denials[denialKey] = Denial(until: until, status: status)
    }

    /// Forgets every denial (after a policy reload, when limits may have changed).
    package mutating func removeAll() {
        self.denials.removeAll()
    }

    private struct DenialKey: Hashable, Sendable {
        let policy: String
        let key: String
    }
}
