/// How a ``RateLimitItem`` turns its limit and period into decisions.
///
/// The raw values are the names used in configuration files and passed to the rate-limit script.
public enum RateLimitAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// Generic cell rate algorithm (as redis-cell's `CL.THROTTLE`): one request per `period / limit` on
    /// average, with up to `burst` requests at once. Stores one timestamp per key. The default.
    case gcra
    /// A bucket of `burst` tokens refilled continuously at `limit` tokens per `period`; each request takes
    /// `cost` tokens. Stores the token count and the time of the last refill.
    case tokenBucket = "token_bucket"
    /// The two-window weighted counter: the previous window's count, weighted by how much of it still lies
    /// within the sliding period, plus the current window's count must stay within `limit`.
    ///
    /// It assumes the previous window's requests were spread evenly. For traffic that is, it is exact;
    /// otherwise it can admit more than `limit` within one sliding period, but always fewer than
    /// `2 × limit`: in a sliding period that covers the last fraction `f` of a window holding `n ≤ limit`
    /// requests and the first fraction `f` of the next, the next window admits at most
    /// `limit − n × (1 − f)`, so the period sees at most `n + limit − n × (1 − f) = limit + n × f`,
    /// which is below `2 × limit` because `f < 1`. The worst case needs all `limit` requests of a window
    /// packed at its very end and a full burst just before the matching point of the next window.
    case slidingWindow = "sliding_window"
    /// A counter per calendar window `[k × period, (k + 1) × period)` (aligned to the Unix epoch, in Redis'
    /// clock); at most `limit` per window, so up to `2 × limit` within one period straddling two windows.
    case fixedWindow = "fixed_window"
}
