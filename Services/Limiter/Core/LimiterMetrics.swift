import GatehouseLimiterPolicies
import GatehouseLimiterAPI
import Metrics

/// The limiter's metrics, created once per policy catalog so that a decision only increments counters.
///
/// Exported names (docs/operations.md lists them with their meaning):
/// - `gatehouse_limiter_decisions_total{policy, outcome}`: `allowed` (the request passed this policy and
///   was charged), `denied` (this policy denied it), `shadow_denied` (a shadow policy would have denied).
/// - `gatehouse_limiter_fallback_decisions_total{policy, mode}`: items decided by `allow`, `deny` or
///   `local` because Redis did not answer in time or the breaker was open.
/// - `gatehouse_limiter_checks_total{source}`: requests by what decided them (`redis`, `denial_cache`,
///   `fallback_allow`, `fallback_deny`, `fallback_local`).
/// - `gatehouse_limiter_redis_duration_seconds`, `gatehouse_limiter_redis_batch_size`: recorded by
///   ``RateLimitBatcher`` per script call.
/// - `gatehouse_limiter_acquires_total{source}`: lease requests (`limiter.AcquireBatch`) by what decided them.
/// - `gatehouse_limiter_lease_units_total{event}`: units `granted` in leases and `released` (credited back).
/// - `gatehouse_limiter_redis_breaker_state`: `0` closed, `1` open, `2` half-open.
struct LimiterMetrics: Sendable {
    /// The counters of one policy.
    struct PolicyCounters: Sendable {
        let allowed: Counter
        let denied: Counter
        let shadowDenied: Counter
        let fallback: Counter

        init(policy: RateLimitPolicy) {
            let decisions = "gatehouse_limiter_decisions_total"
            self.allowed = Counter(label: decisions, dimensions: [("policy", policy.name), ("outcome", "allowed")])
            self.denied = Counter(label: decisions, dimensions: [("policy", policy.name), ("outcome", "denied")])
            self.shadowDenied = Counter(label: decisions, dimensions: [("policy", policy.name), ("outcome", "shadow_denied")])
            self.fallback = Counter(
                label: "gatehouse_limiter_fallback_decisions_total",
                dimensions: [("policy", policy.name), ("mode", policy.onRedisFailure.rawValue)]
            )
        }
    }

    /// Counters per policy name.
    let policies: [String: PolicyCounters]

    init(catalog: PolicyCatalog) {
        self.policies = catalog.policies.mapValues(PolicyCounters.init(policy:))
    }

    /// Requests by the source that decided them.
    static let checksBySource: [Gatehouse_Limiter_DecisionSource: Counter] = Dictionary(
        uniqueKeysWithValues: [
            (.redis, "redis"), (.denialCache, "denial_cache"), (.fallbackAllow, "fallback_allow"),
            (.fallbackDeny, "fallback_deny"), (.fallbackLocal, "fallback_local"),
        ].map { source, name in (source, Counter(label: "gatehouse_limiter_checks_total", dimensions: [("source", name)])) }
    )

    /// Lease requests by the source that decided them.
    static let acquiresBySource: [Gatehouse_Limiter_DecisionSource: Counter] = Dictionary(
        uniqueKeysWithValues: [
            (.redis, "redis"), (.denialCache, "denial_cache"), (.fallbackAllow, "fallback_allow"),
            (.fallbackDeny, "fallback_deny"), (.fallbackLocal, "fallback_local"),
        ].map { source, name in (source, Counter(label: "gatehouse_limiter_acquires_total", dimensions: [("source", name)])) }
    )

    /// Units granted in leases.
    static let unitsGranted = Counter(label: "gatehouse_limiter_lease_units_total", dimensions: [("event", "granted")])
    /// Units credited back by releases.
    static let unitsReleased = Counter(label: "gatehouse_limiter_lease_units_total", dimensions: [("event", "released")])

    /// The circuit breaker's state.
    static let breakerState = Gauge(label: "gatehouse_limiter_redis_breaker_state")
}
