/// The answer to one request, decided over all its ``RateLimitItem``s at once.
package struct RateLimitDecision: Sendable, Hashable {
    /// Whether every item admits the request. Only then was anything charged (by ``RedisRateLimiter/check(_:)``).
    package let allowed: Bool
    /// One decision per item, in the order the items were given.
    package let items: [RateLimitItemDecision]
    /// The item to report to the caller (headers, logs): the first denying item, or when all allow, the one
    /// with the fewest units remaining (the first of equals).
    package let decidingIndex: Int

    /// Creates a decision from per-item decisions; ``allowed`` and ``decidingIndex`` follow from them.
    ///
    /// - Parameter items: One decision per item; not empty.
    package init(items: [RateLimitItemDecision]) {
        precondition(!items.isEmpty, "A rate-limit decision needs at least one item")
        self.items = items
        if let denying = items.firstIndex(where: { !$0.allowed }) {
            self.allowed = false
            self.decidingIndex = denying
        } else {
            self.allowed = true
            var tightest = 0
            for index in items.indices where items[index].remaining < items[tightest].remaining {
                tightest = index
            }
            self.decidingIndex = tightest
        }
    }

    /// The decision of the item at ``decidingIndex``.
    package var deciding: RateLimitItemDecision {
        self.items[self.decidingIndex]
    }
}
