import Synchronization

/// Client addresses that sent a token that failed verification recently. Tokens from such an address are
/// checked against the failure policy before any signature work, so a flood of forged tokens cannot burn
/// the edge's CPU; addresses that never failed cost nothing extra.
package final class RecentFailures: Sendable {
    private let entries = Mutex<[String: ContinuousClock.Instant]>([:])
    private let window: Duration
    private let capacity: Int

    /// Creates an empty set.
    /// - Parameters:
    ///   - window: How long an address stays marked after its last failure.
    ///   - capacity: How many addresses are remembered (when full, expired ones go, then all).
    package init(window: Duration = .seconds(60), capacity: Int = 100_000) {
        self.window = window
        self.capacity = max(1, capacity)
    }

    /// Marks an address as having just failed.
    package func mark(_ address: String, now: ContinuousClock.Instant = .now) {
        self.entries.withLock { entries in
            if entries.count >= self.capacity {
                entries = entries.filter { now - $0.value < self.window }
                if entries.count >= self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[address] = now
        }
    }

    /// Whether an address failed within the window.
    package func contains(_ address: String, now: ContinuousClock.Instant = .now) -> Bool {
        self.entries.withLock { entries in
            guard let last = entries[address] else { return false }
            return now - last < self.window
        }
    }
}
