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
/// - `gatehouse_limiter_queue_wait_seconds`: a request's wait in the batcher's queue, from its submission to its
///   script call being sent (with the script call's own duration and the RPC server's per-method duration, the
///   stages of a check's time).
/// - `gatehouse_limiter_redis_breaker_state`: `0` closed, `1` open, `2` half-open.
package struct LimiterMetrics: Sendable {
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
    static let checksBySource = Self.bySource("gatehouse_limiter_checks_total")

    /// Lease requests by the source that decided them.
    static let acquiresBySource = Self.bySource("gatehouse_limiter_acquires_total")

    /// One counter of `label` per decision source.
    private static func bySource(_ label: String) -> [Gatehouse_Limiter_DecisionSource: Counter] {
        Dictionary(
            uniqueKeysWithValues: [
                (.redis, "redis"), (.denialCache, "denial_cache"), (.fallbackAllow, "fallback_allow"),
                (.fallbackDeny, "fallback_deny"), (.fallbackLocal, "fallback_local"),
            ].map { source, name in (source, Counter(label: label, dimensions: [("source", name)])) }
        )
    }

    /// Units granted in leases.
    static let unitsGranted = Counter(label: "gatehouse_limiter_lease_units_total", dimensions: [("event", "granted")])
    /// Units credited back by releases.
    static let unitsReleased = Counter(label: "gatehouse_limiter_lease_units_total", dimensions: [("event", "released")])

    /// Finer buckets for the timers of a check's stages (queue wait, script call, the whole RPC handler):
    /// every 0.1–0.5 ms up to 5 ms, then to 100 ms, so p99s between the echo's and the limiter's show apart.
    package static let durationBuckets: [String: [Duration]] = {
        let buckets: [Duration] = [
            .microseconds(100), .microseconds(200), .microseconds(300), .microseconds(400), .microseconds(500),
            .microseconds(750), .milliseconds(1), .microseconds(1500), .milliseconds(2), .microseconds(2500),
            .milliseconds(3), .milliseconds(4), .milliseconds(5), .milliseconds(7), .milliseconds(10),
            .milliseconds(15), .milliseconds(20), .milliseconds(30), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        ]
        return [
            RateLimitBatcher.queueWaitLabel: buckets, RateLimitBatcher.redisDurationLabel: buckets,
            "gatehouse_rpc_server_duration_seconds": buckets,
        ]
    }()

    /// The circuit breaker's state.
    static let breakerState = Gauge(label: "gatehouse_limiter_redis_breaker_state")
}
