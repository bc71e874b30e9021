import GatehouseFleet
import GatehouseLimiterPolicies
import GatehouseLimiterAPI
import GatehouseNIOSupport
import GatehouseRPC
import Logging
import Metrics
import Synchronization

/// Answers `limiter.Check`, `limiter.CheckBatch`, `limiter.AcquireBatch`, `limiter.Release`, `limiter.Peek` and
/// `limiter.Reset`: turns a request's items into Redis keys and policy parameters, and decides them together.
///
/// Per check, in order:
/// 1. A non-shadow item whose (policy, key) was denied recently is answered from the ``DenialCache``
///    without Redis (source `DENIAL_CACHE`).
/// 2. If the ``CircuitBreaker`` is open, the policies' fallbacks decide at once.
/// 3. Otherwise one atomic script decides the enforcing items all or nothing; shadow items are decided
///    by a second script of their own, counted, and never deny.
/// 4. A Redis failure (or an answer slower than the Redis client's command timeout) counts against the
///    breaker, and the fallbacks decide: `allow`, `deny`, or `local` (``LocalGCRA`` at limit ÷ replicas).
///    In fallback, `local` items are charged one by one, not all or nothing.
///
/// An acquire (``acquireBatch(_:)``) is a check that grants a lease: each item's cost plus the extra units
/// the caller asked for, capped at the lease cap (``LeaseSettings``: a share of the limit divided among the
/// live edges), debited in Redis. Decided by a remembered denial or a fallback, it grants the cost alone,
/// to be spent at once.
package final class LimiterDecider: Sendable {
    /// What a decision is for.
    private enum Purpose {
        /// Decide and charge the request's cost.
        case check
        /// Decide only.
        case peek
        /// Decide and grant a lease.
        case acquire

        var charges: Bool { self != .peek }
    }

    private struct State: Sendable {
        var catalog: PolicyCatalog
        var metrics: LimiterMetrics
        var breaker: CircuitBreaker
        var denials: DenialCache
        var fallback = PolicyFallback()
    }

    private let limiter: RedisRateLimiter
    private let logger: Logger
    private let state: Mutex<State>
    private let leases: LeaseSettings
    private let fleet: FleetMembership?

    /// Creates a decider.
    /// - Parameters:
    ///   - catalog: The policies in force.
    ///   - limiter: Runs the atomic script in Redis.
    ///   - breaker: The circuit breaker for Redis.
    ///   - denials: The cache of recent denials.
    ///   - leases: How long leases last and how large they may be.
    ///   - fleet: The live edges and limiters (lease caps; the `local` fallback's share); `nil`: the policy
    ///     file's `replicas` for both.
    ///   - logger: Receives a line per denial (policy and caller, never secrets) and per fallback.
    package init(
        catalog: PolicyCatalog,
        limiter: RedisRateLimiter,
        breaker: CircuitBreaker = CircuitBreaker(),
        denials: DenialCache = DenialCache(),
        leases: LeaseSettings = LeaseSettings(),
        fleet: FleetMembership? = nil,
        logger: Logger
    ) {
        self.limiter = limiter
        self.leases = leases
        self.fleet = fleet
        self.logger = logger
        self.state = Mutex(State(catalog: catalog, metrics: LimiterMetrics(catalog: catalog), breaker: breaker, denials: denials))
        LimiterMetrics.breakerState.record(breaker.state.rawValue)
    }

    /// Puts a new policy catalog in force (on reload); decisions under way finish with the old one.
    ///
    /// Remembered denials are forgotten, since a policy's limit or period may have changed; counters in
    /// Redis are kept, so a reload never hands out a fresh budget.
    /// - Parameter catalog: The new catalog.
    package func replaceCatalog(_ catalog: PolicyCatalog) {
        let metrics = LimiterMetrics(catalog: catalog)
        self.state.withLock { state in
            state.catalog = catalog
            state.metrics = metrics
            state.denials.removeAll()
        }
    }

    /// The policy catalog in force.
    package var catalog: PolicyCatalog {
        self.state.withLock { $0.catalog }
    }

    /// The breaker's state, for metrics.
    package var breakerState: CircuitBreaker.State {
        self.state.withLock { $0.breaker.state }
    }

    /// Decides the request's items together and charges them only if all allow.
    /// - Parameter request: The caller and its items.
    /// - Returns: The decision, with a status per item.
    /// - Throws: ``RPCError`` `invalidArgument` naming an unknown policy or a bad item.
    package func check(_ request: Gatehouse_Limiter_CheckRequest) async throws(RPCError) -> Gatehouse_Limiter_CheckResponse {
        try await self.decide(request, purpose: .check)
    }

    /// The most requests one `limiter.CheckBatch` may carry.
    package static let maximumBatchRequests = 256

    /// Decides each request of a batch on its own, as concurrent ``check(_:)`` calls would: the requests that
    /// go to Redis share script calls of their own (up to 64 requests each) instead of queueing behind the
    /// calls in flight one by one; a request with a shadow policy (two scripts) is decided as a single check.
    /// - Parameter batch: Independent requests (at most ``maximumBatchRequests``).
    /// - Returns: One outcome per request, in request order: its decision, or the error ``check(_:)`` would
    ///   have thrown for it.
    /// - Throws: ``RPCError`` `invalidArgument` for an empty or oversized batch.
    package func checkBatch(_ batch: Gatehouse_Limiter_CheckBatchRequest) async throws(RPCError) -> Gatehouse_Limiter_CheckBatchResponse {
        try await self.decideBatch(batch, purpose: .check)
    }

    /// Grants leases: decides each request of a batch as ``checkBatch(_:)`` does and, for each request allowed
    /// by Redis, debits every item its cost plus extra units (the item's `extra`, at most the lease cap less
    /// the cost, and at most a `2 × live edges`-th of what is left), granted to the caller until the lease ends.
    /// A request answered by a remembered denial or a fallback is granted its cost alone, with no lease.
    /// - Parameter batch: Independent requests (at most ``maximumBatchRequests``); a cost of 0 asks for extra
    ///   units only.
    /// - Returns: One outcome per request, in request order, each status with its grant; the live edges and the
    ///   longest lease.
    /// - Throws: ``RPCError`` `invalidArgument` for an empty or oversized batch.
    package func acquireBatch(_ batch: Gatehouse_Limiter_CheckBatchRequest) async throws(RPCError) -> Gatehouse_Limiter_CheckBatchResponse {
        var response = try await self.decideBatch(batch, purpose: .acquire)
        response.leasePeriodMs = UInt64(self.leases.period.wholeMilliseconds)
        return response
    }

    /// Credits unspent lease units back to their policies' state in Redis.
    /// - Parameter request: The policies, keys, units and epochs.
    /// - Returns: The units credited in all.
    /// - Throws: ``RPCError`` `invalidArgument` for an unknown policy or more units than a policy's capacity,
    ///   `unavailable` when Redis fails (the units stay spent: never more than the limit is admitted).
    package func release(_ request: Gatehouse_Limiter_ReleaseRequest) async throws(RPCError) -> Gatehouse_Limiter_ReleaseResponse {
        let catalog = self.state.withLock { $0.catalog }
        var items: [RateLimitItem] = []
        var epochs: [Int64] = []
        for entry in request.items where entry.units > 0 {
            guard let policy = catalog.policies[entry.policy] else {
                throw Self.unknownPolicy(entry.policy, catalog: catalog)
            }
            items.append(RateLimitItem(
                key: Self.redisKey(policy: policy.name, key: entry.key),
                algorithm: policy.algorithm, limit: policy.limit, period: policy.period, burst: policy.burst, cost: Int(entry.units)
            ))
            epochs.append(Int64(clamping: entry.epoch))
        }
        var response = Gatehouse_Limiter_ReleaseResponse()
        guard !items.isEmpty else { return response }
        let credited: [Int]
        do {
            credited = try await self.limiter.release(items, epochs: epochs)
        } catch let error as RateLimitItemError {
            throw RPCError(.invalidArgument, error.description)
        } catch {
            throw RPCError(.unavailable, "Redis could not take the units back: \(error)")
        }
        response.credited = UInt32(clamping: credited.reduce(0, +))
        LimiterMetrics.unitsReleased.increment(by: Int64(response.credited))
        return response
    }

    private func decideBatch(_ batch: Gatehouse_Limiter_CheckBatchRequest, purpose: Purpose) async throws(RPCError) -> Gatehouse_Limiter_CheckBatchResponse {
        let requests = batch.requests
        guard !requests.isEmpty, requests.count <= Self.maximumBatchRequests else {
            throw RPCError(.invalidArgument, "requests: a batch holds 1 to \(Self.maximumBatchRequests) requests, not \(requests.count)")
        }
        var outcomes = [Gatehouse_Limiter_CheckOutcome](repeating: .init(), count: requests.count)
        func answer(_ index: Int, _ response: Gatehouse_Limiter_CheckResponse) {
            outcomes[index] = Self.outcome(.success(self.counted(response, purpose: purpose)))
        }
        var toRedis: [(index: Int, resolved: [ResolvedItem])] = []
        var alone: [Int] = []
        let now = ContinuousClock.now
        let fleet = self.snapshot()
        for (index, request) in requests.enumerated() {
            do throws(RPCError) {
                let resolved = try self.resolve(request, purpose: purpose, in: fleet)
                if let response = self.answerWithoutRedis(resolved, purpose: purpose, limiters: fleet.limiters, now: now) {
                    answer(index, response)
                } else if resolved.contains(where: { $0.policy.shadow }) {
                    alone.append(index)
                } else {
                    toRedis.append((index, resolved))
                }
            } catch {
                outcomes[index] = Self.outcome(.failure(error))
            }
        }
        if !toRedis.isEmpty {
            let scripts = toRedis.map { RateLimitScript.Request(items: $0.resolved.map(\.item), mode: self.mode($0.resolved, purpose, edges: fleet.edges)) }
            // On a Redis Cluster a batch is several script calls (one per slot); a failed one leaves only its
            // own requests to their fallbacks.
            let outcomes = await self.limiter.decide(validatedRequests: scripts)
            let answeredAt = ContinuousClock.now
            var failure: (any Error)?
            for (entry, outcome) in zip(toRedis, outcomes) {
                switch outcome {
                case .success(let decision):
                    let response = self.response(entry.resolved, enforced: decision, shadowed: nil, purpose: purpose)
                    self.rememberDenials(entry.resolved, response: response, now: answeredAt)
                    answer(entry.index, response)
                case .failure(let error):
                    failure = error
                    answer(entry.index, self.fallback(entry.resolved, purpose: purpose, limiters: fleet.limiters, now: ContinuousClock.now))
                }
            }
            if let failure {
                self.redisFailed(failure)
            } else {
                self.updateBreaker { $0.recordSuccess() }
            }
        }
        let decidedAlone = await alone.concurrentMap { index in
            do throws(RPCError) {
                return (index, Self.outcome(.success(try await self.decide(requests[index], purpose: purpose))))
            } catch {
                return (index, Self.outcome(.failure(error)))
            }
        }
        for (index, outcome) in decidedAlone { outcomes[index] = outcome }
        var response = Gatehouse_Limiter_CheckBatchResponse()
        response.outcomes = outcomes
        if purpose == .acquire { response.liveEdges = UInt32(clamping: fleet.edges) }
        return response
    }

    /// A batched request's outcome: its decision, or the error a single check would have thrown.
    private static func outcome(_ result: Result<Gatehouse_Limiter_CheckResponse, RPCError>) -> Gatehouse_Limiter_CheckOutcome {
        var outcome = Gatehouse_Limiter_CheckOutcome()
        switch result {
        case .success(let response):
            outcome.response = response
        case .failure(let error):
            var failure = Gatehouse_Limiter_CheckError()
            failure.code = UInt32(error.code.rawValue)
            failure.message = error.message
            outcome.error = failure
        }
        return outcome
    }

    /// Decides like ``check(_:)`` without charging anything or consulting the denial cache.
    /// - Parameter request: The caller and its items.
    /// - Returns: The decision, with a status per item.
    /// - Throws: ``RPCError`` `invalidArgument` naming an unknown policy or a bad item.
    package func peek(_ request: Gatehouse_Limiter_CheckRequest) async throws(RPCError) -> Gatehouse_Limiter_CheckResponse {
        try await self.decide(request, purpose: .peek)
    }

    /// Forgets one policy's counter for one key.
    /// - Parameter request: The policy and key (`caller` plays no part in a counter's name).
    /// - Throws: ``RPCError`` `invalidArgument` for an unknown policy, `unavailable` when Redis fails.
    package func reset(_ request: Gatehouse_Limiter_ResetRequest) async throws(RPCError) {
        let catalog = self.state.withLock { $0.catalog }
        guard catalog.policies[request.policy] != nil else {
            throw Self.unknownPolicy(request.policy, catalog: catalog)
        }
        do {
            try await self.limiter.reset(key: Self.redisKey(policy: request.policy, key: request.key))
        } catch {
            throw RPCError(.unavailable, "Redis could not reset the counter: \(error)")
        }
    }

    /// The Redis key of one policy's counter for one key value: `gh:<policy>:{<key value>}`.
    ///
    /// It depends on the policy and the key value alone, never on who asks, so callers share a counter
    /// exactly when the policy's key parts say so (a `[route]` policy: one counter per route for everyone).
    /// The key value is the Redis Cluster hash tag (up to its first `}`, Redis' rule), so the policies of a
    /// request that have the same key value live in one slot. Policy names hold no `:`, `{` or `}`, so two
    /// different (policy, key value) pairs never make the same Redis key.
    static func redisKey(policy: String, key: String) -> String {
        "gh:" + policy + ":{" + key + "}"
    }

    private static func unknownPolicy(_ name: String, catalog: PolicyCatalog) -> RPCError {
        RPCError(.invalidArgument, "unknown policy '\(name)'; the limiter has \(catalog.policies.keys.sorted().joined(separator: ", "))")
    }

    /// One request item resolved against its policy.
    private struct ResolvedItem {
        let policy: RateLimitPolicy
        let item: RateLimitItem
        let counters: LimiterMetrics.PolicyCounters?
        /// The request's `caller`, for the denial log line.
        let caller: String
        /// Extra units to grant beyond the cost (acquires only), within the lease cap.
        let extra: Int
    }

    /// What one call (or one batch) decides with: the catalog and its metrics in force, and the live edges
    /// and limiters (the policy file's `replicas` for either while it is not known), read once.
    private struct Snapshot {
        let catalog: PolicyCatalog
        let metrics: LimiterMetrics
        let edges: Int
        let limiters: Int
    }

    /// The catalog, its metrics and the fleet's size now, with one lock.
    private func snapshot() -> Snapshot {
        let (catalog, metrics) = self.state.withLock { ($0.catalog, $0.metrics) }
        let live = self.fleet?.size
        return Snapshot(
            catalog: catalog, metrics: metrics, edges: max(1, live?.edges ?? catalog.replicas), limiters: max(1, live?.limiters ?? catalog.replicas)
        )
    }

    /// The script mode that decides `entries` for `purpose`.
    private func mode(_ entries: [ResolvedItem], _ purpose: Purpose, edges: Int) -> RateLimitScript.Mode {
        switch purpose {
        case .check: .check
        case .peek: .peek
        case .acquire: .acquire(.init(fleetSize: edges, period: self.leases.period, extras: entries.map(\.extra)))
        }
    }

    private func decide(_ request: Gatehouse_Limiter_CheckRequest, purpose: Purpose) async throws(RPCError) -> Gatehouse_Limiter_CheckResponse {
        let fleet = self.snapshot()
        let resolved = try self.resolve(request, purpose: purpose, in: fleet)
        if let answer = self.answerWithoutRedis(resolved, purpose: purpose, limiters: fleet.limiters, now: ContinuousClock.now) {
            return self.counted(answer, purpose: purpose)
        }
        let response: Gatehouse_Limiter_CheckResponse
        do {
            response = try await self.decideInRedis(resolved, purpose: purpose, edges: fleet.edges)
            self.updateBreaker { $0.recordSuccess() }
            if purpose.charges { self.rememberDenials(resolved, response: response, now: ContinuousClock.now) }
        } catch {
            self.redisFailed(error)
            response = self.fallback(resolved, purpose: purpose, limiters: fleet.limiters, now: ContinuousClock.now)
        }
        return self.counted(response, purpose: purpose)
    }

    /// The request's items against the catalog in force, validated; for an acquire, each with the extra units
    /// it may be granted.
    /// - Throws: ``RPCError`` `invalidArgument` naming an unknown policy or a bad item.
    private func resolve(_ request: Gatehouse_Limiter_CheckRequest, purpose: Purpose, in snapshot: Snapshot) throws(RPCError) -> [ResolvedItem] {
        let (catalog, metrics, liveEdges) = (snapshot.catalog, snapshot.metrics, snapshot.edges)
        guard !request.items.isEmpty else {
            throw RPCError(.invalidArgument, "items: a check needs at least one item")
        }
        var resolved: [ResolvedItem] = []
        resolved.reserveCapacity(request.items.count)
        for requestItem in request.items {
            guard let policy = catalog.policies[requestItem.policy] else {
                throw Self.unknownPolicy(requestItem.policy, catalog: catalog)
            }
            let item = RateLimitItem(
                key: Self.redisKey(policy: policy.name, key: requestItem.key),
                algorithm: policy.algorithm,
                limit: policy.limit,
                period: policy.period,
                burst: policy.burst,
                cost: requestItem.hasCost ? Int(requestItem.cost) : policy.cost
            )
            let extra = purpose == .acquire ? min(Int(requestItem.extra), max(0, self.leases.cap(limit: policy.limit, liveEdges: liveEdges) - item.cost)) : 0
            resolved.append(ResolvedItem(
                policy: policy, item: item, counters: purpose.charges ? metrics.policies[policy.name] : nil, caller: request.caller, extra: extra
            ))
        }
        do {
            try self.limiter.validate(resolved.map(\.item))
        } catch {
            throw RPCError(.invalidArgument, error.description)
        }
        return resolved
    }

    /// The answer that needs no script call: a remembered denial (checks only), or the fallbacks while the
    /// breaker is open; `nil` when Redis decides.
    private func answerWithoutRedis(
        _ resolved: [ResolvedItem], purpose: Purpose, limiters: Int, now: ContinuousClock.Instant
    ) -> Gatehouse_Limiter_CheckResponse? {
        if purpose.charges, let cached = self.answerFromDenialCache(resolved, now: now) {
            return cached
        }
        if !self.updateBreaker({ $0.shouldTryRedis(now: now) }) {
            return self.fallback(resolved, purpose: purpose, limiters: limiters, now: now)
        }
        return nil
    }

    /// Counts a check's or acquire's answer by what decided it, and the units an acquire granted; peeks are
    /// not counted.
    private func counted(_ response: Gatehouse_Limiter_CheckResponse, purpose: Purpose) -> Gatehouse_Limiter_CheckResponse {
        switch purpose {
        case .check:
            LimiterMetrics.checksBySource[response.source]?.increment()
        case .acquire:
            LimiterMetrics.acquiresBySource[response.source]?.increment()
            if response.allowed {
                LimiterMetrics.unitsGranted.increment(by: Int64(response.statuses.reduce(0) { $0 + Int($1.granted) }))
            }
        case .peek:
            break
        }
        return response
    }

    /// Counts a failed script call against the breaker and logs it; the fallbacks then decide.
    private func redisFailed(_ error: any Error) {
        self.updateBreaker { $0.recordFailure(now: ContinuousClock.now) }
        self.logger.warning("Redis did not decide; policies' fallbacks decide", metadata: ["error": "\(error)"])
    }

    /// Runs `body` on the breaker and publishes its state when it changed.
    @discardableResult
    private func updateBreaker<Result>(_ body: (inout CircuitBreaker) -> Result) -> Result {
        let (result, before, after) = self.state.withLock { state in
            let before = state.breaker.state
            let result = body(&state.breaker)
            return (result, before, state.breaker.state)
        }
        if before != after {
            LimiterMetrics.breakerState.record(after.rawValue)
            self.logger.notice("Redis circuit breaker changed state", metadata: ["breaker.state": "\(after)"])
        }
        return result
    }

    private func decideInRedis(_ resolved: [ResolvedItem], purpose: Purpose, edges: Int) async throws -> Gatehouse_Limiter_CheckResponse {
        guard resolved.contains(where: { $0.policy.shadow }) else {
            // The common case: one script, no child task.
            let enforced = try await self.run(resolved, purpose: purpose, edges: edges)
            return self.response(resolved, enforced: enforced, shadowed: nil, purpose: purpose)
        }
        async let enforcingDecision = self.run(resolved.filter { !$0.policy.shadow }, purpose: purpose, edges: edges)
        async let shadowDecision = self.run(resolved.filter(\.policy.shadow), purpose: purpose, edges: edges)
        let (enforced, shadowed) = try await (enforcingDecision, shadowDecision)
        return self.response(resolved, enforced: enforced, shadowed: shadowed, purpose: purpose)
    }

    /// The answer to a request from its enforcing items' decision and its shadow items' (each in item order
    /// within its kind), counted per policy; denials are logged when `charge`.
    private func response(
        _ resolved: [ResolvedItem], enforced: RateLimitDecision?, shadowed: RateLimitDecision?, purpose: Purpose
    ) -> Gatehouse_Limiter_CheckResponse {
        let charge = purpose.charges
        let enforcing = resolved.indices.filter { !resolved[$0].policy.shadow }
        let shadow = resolved.indices.filter { resolved[$0].policy.shadow }
        var statuses = [Gatehouse_Limiter_PolicyStatus](repeating: .init(), count: resolved.count)
        for (position, index) in enforcing.enumerated() {
            statuses[index] = Self.status(resolved[index].policy, enforced!.items[position])
        }
        for (position, index) in shadow.enumerated() {
            statuses[index] = Self.status(resolved[index].policy, shadowed!.items[position])
            if shadowed!.items[position].allowed {
                resolved[index].counters?.allowed.increment()
            } else {
                resolved[index].counters?.shadowDenied.increment()
                if charge { self.logDenial(resolved[index], shadow: true) }
            }
        }
        let allowed = enforced?.allowed ?? true
        if allowed {
            for index in enforcing { resolved[index].counters?.allowed.increment() }
        } else if let deciding = enforced.map({ enforcing[$0.decidingIndex] }) {
            resolved[deciding].counters?.denied.increment()
            if charge { self.logDenial(resolved[deciding], shadow: false) }
        }
        return Gatehouse_Limiter_CheckResponse(allowed: allowed, statuses: statuses, source: .redis)
    }

    /// One line per denial, naming the policy, the counter's key and the caller (values chosen by the
    /// calling service, which never puts tokens or secrets in them).
    private func logDenial(_ entry: ResolvedItem, shadow: Bool) {
        self.logger.info(
            shadow ? "shadow policy would deny" : "rate limit denied",
            metadata: ["policy": "\(entry.policy.name)", "key": "\(entry.item.key)", "caller": "\(entry.caller)", "shadow": "\(shadow)"]
        )
    }

    private func run(_ entries: [ResolvedItem], purpose: Purpose, edges: Int) async throws -> RateLimitDecision? {
        guard !entries.isEmpty else { return nil }
        return try await self.limiter.decide(validated: entries.map(\.item), mode: self.mode(entries, purpose, edges: edges))
    }

    private func answerFromDenialCache(_ resolved: [ResolvedItem], now: ContinuousClock.Instant) -> Gatehouse_Limiter_CheckResponse? {
        let denials = self.state.withLock { state in
            resolved.map { entry in
                entry.policy.shadow ? nil : state.denials.denial(policy: entry.policy.name, key: entry.item.key, now: now)
            }
        }
        guard denials.contains(where: { $0 != nil }) else { return nil }
        let statuses = zip(resolved, denials).map { entry, denial in
            var status = Gatehouse_Limiter_PolicyStatus(policy: entry.policy)
            if let denial {
                entry.counters?.denied.increment()
                status.allowed = false
                status.remaining = 0
                status.retryAfterMs = UInt64((denial.until - now).wholeMilliseconds)
                status.resetMs = UInt64(max(.zero, denial.status.resetsAt - now).wholeMilliseconds)
            } else {
                // Not consulted: the request is denied by another item.
                status.allowed = true
                status.remaining = UInt32(clamping: entry.policy.limit)
            }
            return status
        }
        return Gatehouse_Limiter_CheckResponse(allowed: false, statuses: statuses, source: .denialCache)
    }

    private func rememberDenials(_ resolved: [ResolvedItem], response: Gatehouse_Limiter_CheckResponse, now: ContinuousClock.Instant) {
        guard !response.allowed else { return }
        self.state.withLock { state in
            for (entry, status) in zip(resolved, response.statuses) where !entry.policy.shadow && !status.allowed && status.retryAfterMs > 0 {
                state.denials.remember(
                    policy: entry.policy.name,
                    key: entry.item.key,
                    until: now + .milliseconds(status.retryAfterMs),
                    status: PolicyStatusSnapshot(
                        limit: entry.policy.limit, windowSeconds: Int(status.windowSeconds), resetsAt: now + .milliseconds(status.resetMs)
                    ),
                    now: now
                )
            }
        }
    }

    /// The fallbacks' answer; an allowed acquire is granted its cost alone, to spend at once.
    private func fallback(_ resolved: [ResolvedItem], purpose: Purpose, limiters: Int, now: ContinuousClock.Instant) -> Gatehouse_Limiter_CheckResponse {
        let items = resolved.map { PolicyFallback.Item(policy: $0.policy, key: $0.item.key, cost: $0.item.cost) }
        var outcome = self.state.withLock { state in
            state.fallback.decide(items, replicas: limiters, denyRetryAfter: state.breaker.openDuration, now: now)
        }
        if purpose == .acquire, outcome.response.allowed {
            for index in resolved.indices {
                outcome.response.statuses[index].granted = UInt32(clamping: resolved[index].item.cost)
            }
        }
        let allowed = outcome.response.allowed
        for (index, (entry, status)) in zip(resolved, outcome.response.statuses).enumerated() {
            entry.counters?.fallback.increment()
            if outcome.shadowDenied[index] { entry.counters?.shadowDenied.increment() }
            if allowed {
                entry.counters?.allowed.increment()
            } else if !status.allowed {
                entry.counters?.denied.increment()
            }
        }
        return outcome.response
    }

    // MARK: Building answers

    private static func status(_ policy: RateLimitPolicy, _ decision: RateLimitItemDecision) -> Gatehouse_Limiter_PolicyStatus {
        var status = Gatehouse_Limiter_PolicyStatus(policy: policy)
        status.allowed = decision.allowed || policy.shadow
        status.remaining = UInt32(clamping: decision.remaining)
        status.resetMs = UInt64(decision.resetAfter.wholeMilliseconds)
        status.retryAfterMs = UInt64(decision.retryAfter.wholeMilliseconds)
        if decision.granted > 0 {
            status.granted = UInt32(clamping: decision.granted)
            status.leaseMs = UInt64(decision.lease.wholeMilliseconds)
            status.epoch = UInt64(decision.epoch)
        }
        return status
    }
}
