import Synchronization

/// The limiter client's memory of recent denials (a ``DenialCache``): a (policy, key) the limiter denied is
/// answered from here, with no call, until the retry-after the caller was told (whole seconds, rounded up)
/// has passed, so a caller that keeps sending after a 429 costs its service no limiter call.
///
/// Shadow policies never deny, so they are never remembered. Bounded as the cache is (100,000 denials;
/// when full, ended ones are dropped first, else new denials are not remembered).
final class LimiterDenialMemory: Sendable {
    private let cache = Mutex(DenialCache())

    /// The answer to `request` when one of its items is denied in memory at `now`: the denied items with their
    /// remembered status counted down to `now` (retry-after and reset), the others not consulted (allowed,
    /// nothing else known but the policy's name); `nil` when none is.
    func answer(_ request: LimiterRequest, now: ContinuousClock.Instant) -> LimiterDecision? {
        // The statuses are built as the denials are looked up, under the lock: no denial is copied out.
        var denied = false
        let statuses = self.cache.withLock { cache in
            request.items.map { item in
                var status = LimiterDecision.PolicyStatus()
                status.policy = item.policy
                status.allowed = true
                if let denial = cache.denial(policy: item.policy, key: item.key, now: now) {
                    denied = true
                    status.allowed = false
                    status.limit = UInt32(clamping: denial.status.limit)
                    status.windowSeconds = UInt32(clamping: denial.status.windowSeconds)
                    status.retryAfterMilliseconds = UInt64((denial.until - now).wholeMilliseconds)
                    status.resetMilliseconds = UInt64(max(.zero, denial.status.resetsAt - now).wholeMilliseconds)
                }
                return status
            }
        }
        return denied ? LimiterDecision(allowed: false, statuses: statuses, source: .denialCache) : nil
    }

    /// Whether `policy` and `key` are denied in memory at `now`: a lookup, with no answer built.
    func denies(policy: String, key: String, now: ContinuousClock.Instant) -> Bool {
        self.cache.withLock { $0.denial(policy: policy, key: key, now: now) != nil }
    }

    /// Remembers the denials of `decision`, the answer to `request` received at `now`: each item the limiter
    /// denied with a retry-after, until that retry-after in whole seconds, rounded up.
    func remember(_ decision: LimiterDecision, of request: LimiterRequest, now: ContinuousClock.Instant) {
        guard !decision.allowed else { return }
        let denied = zip(request.items, decision.statuses).filter { !$1.allowed && !$1.shadow && $1.retryAfterMilliseconds > 0 }
        guard !denied.isEmpty else { return }
        self.cache.withLock { cache in
            for (item, status) in denied {
                cache.remember(
                    policy: item.policy,
                    key: item.key,
                    until: now + .seconds(Int64(clamping: (status.retryAfterMilliseconds + 999) / 1000)),
                    status: PolicyStatusSnapshot(
                        limit: Int(status.limit), windowSeconds: Int(status.windowSeconds), resetsAt: now + .milliseconds(Int64(clamping: status.resetMilliseconds))
                    ),
                    now: now
                )
            }
        }
    }
}
