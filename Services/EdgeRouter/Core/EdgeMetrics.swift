import GatehouseLimiterAPI
import GatehouseObservability
import Metrics
import Synchronization

/// The edge router's metrics, created once and reused (docs/operations.md, "edge-router metrics").
package enum EdgeMetrics {
    /// The edge's `Timer`s with buckets of their own, for ``MetricsBootstrap/bootstrap(registry:durationBuckets:)``:
    /// the invalidation lag in steps of 0.5–1 ms up to 10 ms, so its p99 can be read against a target of a few
    /// milliseconds.
    package static let durationBuckets: [String: [Duration]] = [
        "gatehouse_edge_invalidation_lag_seconds": [
            .microseconds(500), .milliseconds(1), .microseconds(1500), .milliseconds(2), .microseconds(2500),
            .milliseconds(3), .milliseconds(4), .milliseconds(5), .milliseconds(6), .microseconds(7500),
            .milliseconds(10), .milliseconds(25), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5),
        ]
    ]

    /// Counts an answer by route template and status and records its latency by route template: one
    /// lookup for both, by the template and the status alone, without building `MetricsCache`'s key.
    static func answered(route: String, status: Int, nanoseconds: Int64) {
        let (counter, timer) = Self.byRoute.withLock { byRoute in
            var metrics = byRoute[route] ?? RouteMetrics(latency: MetricsCache.timer("gatehouse_edge_request_duration_seconds", [("route", route)]))
            if let counter = metrics.responses[status] { return (counter, metrics.latency) }
            let counter = Self.counter("gatehouse_edge_responses_total", [("route", route), ("status", String(status))])
            metrics.responses[status] = counter
            byRoute[route] = metrics
            return (counter, metrics.latency)
        }
        counter.increment()
        timer.recordNanoseconds(nanoseconds)
    }

    /// A route template's latency timer and response counters by status.
    private struct RouteMetrics {
        var latency: Metrics.Timer
        var responses: [Int: Counter] = [:]
    }

    /// The metrics by route template. Bounded by the routes and statuses there are.
    private static let byRoute = Mutex<[String: RouteMetrics]>([:])

    /// Cache lookups that found a fresh entry.
    static let cacheHits = Counter(label: "gatehouse_edge_cache_lookups_total", dimensions: [("outcome", "hit")])
    /// Cache lookups answered from a stale entry (`stale-while-revalidate`, `stale-if-error`).
    static let cacheStaleHits = Counter(label: "gatehouse_edge_cache_lookups_total", dimensions: [("outcome", "stale")])
    /// Records the active health check's verdict on an HTTP upstream's address (`host:port`) in
    /// `gatehouse_edge_upstream_healthy`: 1 healthy, 0 not.
    static func recordUpstreamHealth(address: String, healthy: Bool) {
        Gauge(label: "gatehouse_edge_upstream_healthy", dimensions: [("address", address)]).record(healthy ? 1 : 0)
    }
    /// Stale entries of HTTP upstreams that their upstream confirmed with `304 Not Modified` (refreshed, not fetched again).
    static let cacheRevalidations = Counter(label: "gatehouse_edge_cache_revalidated_total")
    /// Cache lookups that had to ask the data service.
    static let cacheMisses = Counter(label: "gatehouse_edge_cache_lookups_total", dimensions: [("outcome", "miss")])

    /// Token rejections by reason.
    static func authFailure(_ reason: TokenRejection) -> Counter {
        counter("gatehouse_edge_auth_failures_total", [("reason", reason.rawValue)])
    }

    /// Limiter decisions that were asked for.
    static func limiterDecision(allowed: Bool) -> Counter {
        allowed ? limiterAllowed : limiterDenied
    }

    private static let limiterAllowed = Counter(label: "gatehouse_edge_limiter_decisions_total", dimensions: [("outcome", "allowed")])
    private static let limiterDenied = Counter(label: "gatehouse_edge_limiter_decisions_total", dimensions: [("outcome", "denied")])

    /// Requests the policies' fallbacks decided while the limiter could not be asked, by path
    /// (`fallback_allow`, `fallback_deny`, `fallback_local`).
    static func limiterFallback(_ source: String) -> Counter {
        counter("gatehouse_edge_limiter_fallback_decisions_total", [("source", source)])
    }

    /// Limiter calls that failed (the fallback policies, or else letting the request through, decided).
    static let limiterFailures = Counter(label: "gatehouse_edge_limiter_failures_total")

    /// What decided a rate-limited request: units held here (`lease`), the limiter's answer to its acquire
    /// (`limiter`), a remembered denial (`memory`), or a policy's fallback (`fallback`).
    enum RateLimitSource: String, CaseIterable { case lease, limiter, memory, fallback }

    /// Rate-limited requests by what decided them: `lease` and `memory` needed no call.
    static func rateLimitDecision(_ source: RateLimitSource) -> Counter {
        Self.rateLimitSources[RateLimitSource.allCases.firstIndex(of: source)!]
    }

    private static let rateLimitSources = RateLimitSource.allCases.map {
        Counter(label: "gatehouse_edge_rate_limit_decisions_total", dimensions: [("source", $0.rawValue)])
    }

    /// A limiter method the edge calls.
    enum LimiterCall: String, CaseIterable { case acquire, check, release, peek }

    /// Calls to the limiter by method (`acquire` is `limiter.AcquireBatch`; `check` counts `limiter.Check` and
    /// `limiter.CheckBatch` calls to a limiter without leases).
    static func limiterCall(_ method: LimiterCall) -> Counter {
        Self.limiterCalls[LimiterCall.allCases.firstIndex(of: method)!]
    }

    private static let limiterCalls = LimiterCall.allCases.map {
        Counter(label: "gatehouse_edge_limiter_calls_total", dimensions: [("method", $0.rawValue)])
    }

    /// The counters of ``limiterCall(_:)`` that the limiter's client counts its batches' calls in.
    static var limiterCallCounters: LimiterCallCounters {
        LimiterCallCounters(acquire: Self.limiterCall(.acquire), check: Self.limiterCall(.check))
    }

    /// What happened to leased units.
    enum LeaseEvent: String, CaseIterable { case granted, returned, expired }

    /// Leased units: `granted` (held for later requests), `returned` (credited back at the limiter),
    /// `expired` (void: a window's units past their window, or a return the limiter did not take).
    static func leaseUnits(_ event: LeaseEvent) -> Counter {
        Self.leaseEvents[LeaseEvent.allCases.firstIndex(of: event)!]
    }

    private static let leaseEvents = LeaseEvent.allCases.map {
        Counter(label: "gatehouse_edge_lease_units_total", dimensions: [("event", $0.rawValue)])
    }

    /// Units held in unexpired leases (sampled every 200 ms).
    static let leaseUnitsHeld = Gauge(label: "gatehouse_edge_lease_units_held")
    /// Checks the limiter refused as invalid (`INVALID_ARGUMENT`: a policy it does not know); the fallbacks decided.
    static let limiterRefusedChecks = Counter(label: "gatehouse_edge_limiter_refused_checks_total")
    /// Time from a change's commit at the data service to this edge applying its invalidation.
    static let invalidationLag = Metrics.Timer(label: "gatehouse_edge_invalidation_lag_seconds")
    /// Connections closed because a request was not received and answered within `http.request_timeout_ms`.
    static let requestTimeouts = Counter(label: "gatehouse_edge_request_timeouts_total")
    /// Streamed upstream answers that broke off after their head was sent (the client's connection was closed).
    static let upstreamStreamsBroken = Counter(label: "gatehouse_edge_upstream_streams_broken_total")
    /// Connections closed because a request head was not complete within `http.head_timeout_ms`.
    static let headTimeouts = Counter(label: "gatehouse_edge_head_timeouts_total")
    /// Connections answered `503` and closed because the edge held `http.max_connections`.
    static let connectionsRefused = Counter(label: "gatehouse_edge_connections_refused_total")
    /// The public HTTP connections the edge holds (refused ones not counted).
    static let connections = Meter(label: "gatehouse_edge_connections")
    /// Data-service calls made for misses (after coalescing).
    static let dataCalls = Counter(label: "gatehouse_edge_data_calls_total")
    /// 1 while the edge holds the issuer's whole revocation state, 0 while fetching it fails.
    static let revocationStateCurrent = Gauge(label: "gatehouse_edge_revocation_state_current")
    /// Entries evicted to stay within `cache.max_bytes`.
    static let cacheEvictions = Counter(label: "gatehouse_edge_cache_evictions_total")
    /// Entries dropped by invalidations (events, own writes, or everything after a gap).
    static let cacheInvalidated = Counter(label: "gatehouse_edge_cache_invalidated_entries_total")
    /// Cache bytes and entries.
    static let cacheBytes = Gauge(label: "gatehouse_edge_cache_bytes")
    static let cacheEntries = Gauge(label: "gatehouse_edge_cache_entries")

    /// Path invalidation messages (docs/protocol.md) by what became of them: `published` by this edge,
    /// `failed` publish attempts (retried), `received` and applied from others, `unreadable` ones ignored.
    enum PathInvalidationOutcome: String { case published, failed, received, unreadable }

    /// Path invalidation messages by outcome.
    static func pathInvalidationMessages(_ outcome: PathInvalidationOutcome) -> Counter {
        counter("gatehouse_edge_path_invalidation_messages_total", [("outcome", outcome.rawValue)])
    }

    /// Paths dropped unpublished from the full queue of path invalidations while Redis was unreachable.
    static let pathInvalidationsOverflowed = Counter(label: "gatehouse_edge_path_invalidations_overflowed_total")

    private static func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        MetricsCache.counter(label, dimensions)
    }
}
