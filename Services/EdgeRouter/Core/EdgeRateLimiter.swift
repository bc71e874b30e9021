import GatehouseAuthAPI
import GatehouseFleet
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import JWTKit
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The edge's side of rate limiting, decided here from units leased from the limiter: each request debits
/// every one of its policies' balances locally (``LeaseTable``), all or nothing, with no network; only a
/// balance that runs short asks the limiter, once per key however many requests wait for it. Each policy is
/// keyed as its `key` parts say (``PolicyKeyValues``, from the policy file), and every decision carries the
/// IETF `RateLimit-Policy`/`RateLimit` headers.
///
/// - **Acquires** are batched by the limiter's client (``LimiterClient/acquire(_:traceID:)``): the acquires of one
///   event-loop tick, and those that arrive while 4 calls of their loop are in flight, go out together as one
///   `limiter.AcquireBatch`. A request's acquire
///   asks for its cost plus the key's want (see ``LeaseTable``), and the request spends its cost from that
///   grant; a balance down to a quarter of its want is refilled ahead of need, off the request path.
/// - **Denials** (the limiter's and the fallbacks') are remembered per (policy, key value) until their
///   retry-after by the limiter's client (``LimiterClient/rememberedDenial(of:at:)``), so a flooding caller is
///   answered 429 from memory, even while the limiter is not asked after a failure; a denial of a
///   `[sub, route]` policy on one route never refuses the same caller on another.
/// - **Unspent units go back** (`limiter.Release`): every 200 ms ``run()`` returns the units of expired leases
///   of the rate algorithms and of keys idle for 5 s, and at shutdown everything held.
/// - **The limiter unreachable** (or too slow, past `limiter.call_timeout_ms`): counted in
///   `gatehouse_edge_limiter_failures_total` and logged once per outage. Units held are spent until their
///   leases end; a request short of units is then decided by each policy's `on_redis_failure`
///   (``PolicyFallback``: `allow`, `deny` for a second at a time, or `local` at limit ÷ the live edges,
///   counted by ``FleetMembership``), and for 500 ms after a failure no call is tried, so a dead limiter costs
///   no request more than one call timeout. The limiter refusing a check as invalid (`INVALID_ARGUMENT`: a
///   policy its own policy file lacks) is decided the same way, never let through unchecked: counted in
///   `gatehouse_edge_limiter_refused_checks_total` and logged at most once a minute. A `Peek` (asking only)
///   is allowed when the limiter cannot answer it.
/// - **An older limiter** without `limiter.AcquireBatch` (a rolling upgrade) gets `limiter.CheckBatch` (or single
///   `limiter.Check`s) instead from the client, one decision per request, and is asked for leases again every
///   30 s; meanwhile each request is decided on its own, no request waiting for another's.
package final class EdgeRateLimiter: Service, Sendable {
    /// The decision for one request.
    package struct Decision: Sendable, Equatable {
        /// Whether the request may proceed.
        package var allowed: Bool
        /// Seconds until a denied request may be retried (`Retry-After`).
        package var retryAfterSeconds: Int
        /// The policy that denied, for the problem body.
        package var deniedBy: String?
        /// The `RateLimit-Policy` and `RateLimit` header fields (empty when nothing was checked).
        package var headers: [(name: String, value: String)]

        package static func == (lhs: Decision, rhs: Decision) -> Bool {
            lhs.allowed == rhs.allowed && lhs.retryAfterSeconds == rhs.retryAfterSeconds && lhs.deniedBy == rhs.deniedBy
                && lhs.headers.map(\.value) == rhs.headers.map(\.value)
        }

        static let unchecked = Decision(allowed: true, retryAfterSeconds: 0, deniedBy: nil, headers: [])
    }

    private let limiter: LimiterClient
    private let table: Mutex<LeaseTable>
    private let fleet: FleetMembership?
    /// Until when the limiter is not asked, after a failed call.
    private let unreachableUntil = Mutex<ContinuousClock.Instant?>(nil)
    private let failing = Atomic<Bool>(false)
    private let policies: Mutex<PolicyCatalog>
    private let apiKeyHeader: String?
    private let fallback = Mutex(PolicyFallback())
    /// When a refused check was last logged.
    private let refusalLogged = Mutex<ContinuousClock.Instant?>(nil)
    private let logger: Logger

    /// How often, at most, a check the limiter refused is logged.
    static let refusalLogInterval = Duration.seconds(60)
    /// How long the limiter is not asked after a call failed.
    static let unreachableBackoff = Duration.milliseconds(500)
    /// How often expired and idle leases are returned.
    static let sweepInterval = Duration.milliseconds(200)

    /// Creates the gate; ``run()`` returns unspent units while it runs and everything held at shutdown.
    /// - Parameters:
    ///   - limiter: The limiter's client (its batches counted in `gatehouse_edge_limiter_calls_total`, see
    ///     ``EdgeMetrics/limiterCallCounters``); the `run()` of its RPC client must be going.
    ///   - policies: The limiter's policy file: each policy's key parts, cost and fallback.
    ///   - apiKeyHeader: The request header whose value is the `api_key` key part, lower-case (`policies.api_key_header`).
    ///   - fleet: The live edges, the `local` fallback's divisor; `nil`: the policy file's `replicas`.
    ///   - keyCapacity: The most (policy, key value) pairs whose units are held.
    ///   - logger: Receives limiter outages and refusals.
    package init(
        limiter: LimiterClient, policies: PolicyCatalog, apiKeyHeader: String? = nil, fleet: FleetMembership? = nil, keyCapacity: Int = 100_000,
        logger: Logger
    ) {
        self.limiter = limiter
        self.table = Mutex(LeaseTable(capacity: keyCapacity))
        self.fleet = fleet
        self.policies = Mutex(policies)
        self.apiKeyHeader = apiKeyHeader
        self.logger = logger
    }

    /// The values a request offers the policies' keys.
    /// - Parameters:
    ///   - request: The request (its address, method and API-key header).
    ///   - route: The matched route's template.
    ///   - claims: The verified token's claims; `nil` for an anonymous caller.
    ///   - tier: The name of the tier that chose the policies.
    package func keyValues(of request: EdgeRequest, route: String, claims: AccessTokenClaims?, tier: String) -> PolicyKeyValues {
        PolicyKeyValues(
            ip: request.clientIP, subject: claims?.sub.value, clientID: claims?.clientID, role: tier,
            apiKey: self.apiKeyHeader.flatMap { request.header($0) }, route: route, method: request.method == "HEAD" ? "GET" : request.method
        )
    }

    /// Decides a request.
    /// - Parameters:
    ///   - policies: The route's policies for the caller's tier; none: allowed without an RPC.
    ///   - caller: What the request offers the policies' keys; each policy's key is built from its parts.
    ///   - requestID: Passed along to the limiter's logs.
    ///   - charge: Spend each policy's cost when `true`; ask `limiter.Peek` (nothing spent) when `false`.
    package func decide(policies: [String], for caller: PolicyKeyValues, requestID: String, charge: Bool = true) async -> Decision {
        guard !policies.isEmpty else { return .unchecked }
        let catalog = self.policies.withLock { $0 }
        let items = self.items(policies, for: caller, catalog: catalog)
        guard charge else { return await self.peek(items, caller: caller.caller, requestID: requestID) }
        var retries = 0
        while true {
            let now = ContinuousClock.now
            // A limiter without leases decides every request on its own: no request waits for another's.
            let singleFlight = !self.limiter.sendsChecksOnly(at: now)
            let spend = self.table.withLock { table in
                table.spend(items, now: now, singleFlight: singleFlight) { self.limiter.remembersDenial(policy: $0.policy, key: $0.key, at: now) }
            }
            if let decision = self.decided(spend, items: items, caller: caller.caller, now: now) { return decision }
            switch spend {
            case .wait(let key):
                await withCheckedContinuation { continuation in
                    if !self.table.withLock({ $0.wait(for: key, continuation) }) { continuation.resume() }
                }
            case .acquire(let wants):
                switch await self.acquire(wants, spending: items, caller: caller.caller, requestID: requestID, catalog: catalog) {
                case .spent(let statuses):
                    return self.decided(LimiterDecision(allowed: true, statuses: statuses, source: .redis))
                case .denied(let response):
                    return self.decided(response)
                case .retry, nil:
                    // Granted, but another balance this request needs ran dry meanwhile: the grant is held, so
                    // spending again mostly succeeds; after a few rounds the fallbacks decide.
                    retries += 1
                    if retries == 4 {
                        let wants = items.map { LeaseTable.Want(key: $0.key, cost: $0.cost, extra: 0) }
                        return self.decided(self.fallbackResponse(wants, catalog: catalog, now: .now))
                    }
                }
            case .spent, .remembered, .short:
                continue  // a denial that was no longer in memory when its answer was built: spend again
            }
        }
    }

    /// A request's decision when it needs no wait, as ``decide(policies:for:requestID:charge:)`` would make it:
    /// every policy debited from the units held, or a denial from the memory of denials. `nil` when a key is
    /// short of units (nothing was marked: `decide` acquires them) or the limiter grants no leases.
    package func decideAtOnce(policies: [String], for caller: PolicyKeyValues) -> Decision? {
        guard !policies.isEmpty else { return .unchecked }
        let now = ContinuousClock.now
        guard !self.limiter.sendsChecksOnly(at: now) else { return nil }
        let items = self.items(policies, for: caller, catalog: self.policies.withLock { $0 })
        let spend = self.table.withLock { table in
            table.spend(items, now: now, acquiring: false) { self.limiter.remembersDenial(policy: $0.policy, key: $0.key, at: now) }
        }
        return self.decided(spend, items: items, caller: caller.caller, now: now)
    }

    /// A request's items: each policy keyed by its key parts, with its cost and the units worth asking for.
    private func items(_ policies: [String], for caller: PolicyKeyValues, catalog: PolicyCatalog) -> [LeaseTable.Item] {
        var items: [LeaseTable.Item] = []
        items.reserveCapacity(policies.count)
        var previous: (parts: [PolicyKeyPart], key: String)?
        let leasePeriod = self.limiter.leasePeriodMilliseconds
        for name in policies {
            // A name the catalog lacks (only while a reload swaps the files) is keyed by the caller.
            let policy = catalog.policies[name]
            let parts = policy?.key ?? [.sub]
            let key = previous.flatMap { $0.parts == parts ? $0.key : nil } ?? caller.key(parts)
            previous = (parts, key)
            items.append(LeaseTable.Item(
                key: LeaseTable.Key(policy: name, key: key), cost: policy?.cost ?? 1,
                minimumWant: policy.map { Self.minimumWant($0, leasePeriodMilliseconds: leasePeriod) } ?? 0
            ))
        }
        return items
    }

    /// The decision a spend came to without asking the limiter: its debits (a refill ahead of need sent off
    /// the request path), or a denial answered from the memory of denials with no acquire started; `nil`
    /// when the limiter must be asked or waited for.
    private func decided(_ spend: LeaseTable.Spend, items: [LeaseTable.Item], caller: String, now: ContinuousClock.Instant) -> Decision? {
        switch spend {
        case .spent(let statuses, let refill):
            if !refill.isEmpty { self.refillAhead(refill, caller: caller) }
            EdgeMetrics.rateLimitDecision(.lease).increment()
            return self.decided(LimiterDecision(allowed: true, statuses: statuses, source: .redis))
        case .remembered:
            let request = LimiterRequest(caller: caller, items: items.map { LimiterRequest.Item(policy: $0.key.policy, key: $0.key.key, cost: $0.cost) })
            guard let response = self.limiter.rememberedDenial(of: request, at: now) else { return nil }
            EdgeMetrics.rateLimitDecision(.memory).increment()
            // Every item denied (a flooding caller's usual case): the answer is the memory's, and the table,
            // which would only fill in the statuses of items allowed, is not locked again.
            if response.statuses.allSatisfy({ !$0.allowed }) { return self.decided(response) }
            let wants = items.map { LeaseTable.Want(key: $0.key, cost: $0.cost, extra: 0) }
            return self.decided(self.table.withLock { $0.answer(items, wants: wants, response: response, now: now) })
        case .wait, .acquire, .short:
            return nil
        }
    }

    /// The units worth asking for beyond the cost: for `gcra` and `token_bucket`, what the budget refills in a
    /// lease period (their leases last only until the budget would be full again, so a grant of fewer units
    /// would end before it could be spent); 0 for the window algorithms, whose leases last to their window's
    /// end.
    static func minimumWant(_ policy: RateLimitPolicy, leasePeriodMilliseconds: Int) -> Int {
        switch policy.algorithm {
        case .gcra, .tokenBucket:
            let period = max(1, policy.period.wholeMilliseconds)
            return Int((Int64(policy.limit) * Int64(leasePeriodMilliseconds) + Int64(period) - 1) / Int64(period))
        case .slidingWindow, .fixedWindow:
            return 0
        }
    }

    /// Counts a decision and builds its headers.
    private func decided(_ response: LimiterDecision) -> Decision {
        let decision = Self.decision(response)
        EdgeMetrics.limiterDecision(allowed: decision.allowed).increment()
        return decision
    }

    /// Asks the limiter (`limiter.Peek`) without spending anything; allowed when it cannot answer.
    private func peek(_ items: [LeaseTable.Item], caller: String, requestID: String) async -> Decision {
        let request = LimiterRequest(caller: caller, items: items.map { LimiterRequest.Item(policy: $0.key.policy, key: $0.key.key, cost: $0.cost) })
        EdgeMetrics.limiterCall(.peek).increment()
        guard let response = try? await self.limiter.peek(request, traceID: requestID) else { return .unchecked }
        return Self.decision(response)
    }

    /// Acquires `wants` and applies the answer; for a request's own acquire (`spending` its items) returns the
    /// request's outcome. A refill (`spending` nil) that cannot reach the limiter just ends.
    private func acquire(
        _ wants: [LeaseTable.Want], spending items: [LeaseTable.Item]?, caller: String, requestID: String, catalog: PolicyCatalog
    ) async -> LeaseTable.Outcome? {
        let sentAt = ContinuousClock.now
        let request = LimiterRequest(
            caller: caller, items: wants.map { LimiterRequest.Item(policy: $0.key.policy, key: $0.key.key, cost: $0.cost, extra: $0.extra) }
        )
        var response: LimiterDecision?
        if let remembered = self.limiter.rememberedDenial(of: request, at: sentAt) {
            response = remembered
            if items != nil { EdgeMetrics.rateLimitDecision(.memory).increment() }
        } else if self.unreachableUntil.withLock({ $0.map { $0 > sentAt } ?? false }) {
            response = nil
        } else {
            do {
                response = try await self.limiter.acquire(request, traceID: requestID).get()
                self.unreachableUntil.withLock { $0 = nil }
                if self.failing.exchange(false, ordering: .relaxed) {
                    self.logger.notice("the limiter answers again")
                }
                if items != nil { EdgeMetrics.rateLimitDecision(response!.source == .denialCache ? .memory : .limiter).increment() }
            } catch let error as LimiterClientError where error.reason == .refused {
                EdgeMetrics.limiterRefusedChecks.increment()
                self.logRefusal(error, policies: wants.map(\.key.policy))
            } catch {
                EdgeMetrics.limiterFailures.increment()
                self.unreachableUntil.withLock { $0 = .now + Self.unreachableBackoff }
                if !self.failing.exchange(true, ordering: .relaxed) {
                    self.logger.warning("cannot reach the limiter; units held are spent, then the policies' fallbacks decide", metadata: ["error": "\(error)"])
                }
            }
        }
        if response == nil, items != nil {
            let fallback = self.fallbackResponse(wants, catalog: catalog, now: .now)
            // Its denials are remembered like the limiter's: repeats within its retry-after are answered from memory.
            self.limiter.remember(fallback, answering: request, at: .now)
            response = fallback
            EdgeMetrics.rateLimitDecision(.fallback).increment()
        }
        let now = ContinuousClock.now
        let (waiters, outcome) = self.table.withLock { table in
            guard let response else { return (table.acquireFailed(wants, now: now), nil as LeaseTable.Outcome?) }
            return table.granted(wants, response: response, sentAt: sentAt, now: now, spending: items)
        }
        for waiter in waiters { waiter.resume() }
        if let response { Self.count(response, wants: wants, spending: items != nil) }
        return outcome
    }

    /// Refills balances running low, off the request path.
    private func refillAhead(_ wants: [LeaseTable.Want], caller: String) {
        let now = ContinuousClock.now
        if self.limiter.sendsChecksOnly(at: now) {
            self.table.withLock { _ = $0.acquireFailed(wants, now: now) }
            return
        }
        let catalog = self.policies.withLock { $0 }
        Task { _ = await self.acquire(wants, spending: nil, caller: caller, requestID: "refill", catalog: catalog) }
    }

    /// Counts the units an answer granted beyond what its request spent at once.
    private static func count(_ response: LimiterDecision, wants: [LeaseTable.Want], spending: Bool) {
        var held = 0
        for (want, status) in zip(wants, response.statuses) where status.leaseMilliseconds > 0 {
            held += max(0, Int(status.granted) - (spending ? want.cost : 0))
        }
        if held > 0 { EdgeMetrics.leaseUnits(.granted).increment(by: Int64(held)) }
    }

    /// Returns unspent units every ``sweepInterval`` (expired leases of the rate algorithms, idle keys) until a
    /// graceful shutdown, then everything held.
    package func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.sweepInterval)
                let now = ContinuousClock.now
                let (returns, stranded, held) = self.table.withLock { table in
                    let (returns, stranded) = table.sweep(now: now)
                    return (returns, stranded, table.unitsHeld(at: now))
                }
                EdgeMetrics.leaseUnitsHeld.record(held)
                if stranded > 0 { EdgeMetrics.leaseUnits(.expired).increment(by: Int64(stranded)) }
                await self.release(returns)
            }
        }
        await self.release(self.table.withLock { $0.drain(now: .now) })
        EdgeMetrics.leaseUnitsHeld.record(0)
    }

    /// Credits `returns` back at the limiter (`limiter.Release`); units it cannot take back stay spent.
    private func release(_ returns: [LeaseTable.Return]) async {
        guard !returns.isEmpty else { return }
        let releases = returns.map { LimiterRelease(policy: $0.key.policy, key: $0.key.key, units: $0.units, epoch: $0.epoch) }
        let units = returns.reduce(0) { $0 + $1.units }
        EdgeMetrics.limiterCall(.release).increment()
        do {
            _ = try await self.limiter.release(releases)
            EdgeMetrics.leaseUnits(.returned).increment(by: Int64(units))
        } catch {
            EdgeMetrics.leaseUnits(.expired).increment(by: Int64(units))
            self.logger.debug("the limiter did not take unspent units back; they stay spent", metadata: ["units": "\(units)", "error": "\(error)"])
        }
    }

    /// Puts a new policy catalog in force (a reloaded policy file); requests in flight finish with the old one.
    package func replacePolicies(_ catalog: PolicyCatalog) {
        self.policies.withLock { $0 = catalog }
    }

    /// Logs a check the limiter refused, at most once per ``refusalLogInterval``.
    private func logRefusal(_ error: LimiterClientError, policies: [String]) {
        let now = ContinuousClock.now
        let due = self.refusalLogged.withLock { last in
            guard last.map({ now - $0 >= Self.refusalLogInterval }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        self.logger.error(
            "the limiter refused a check (does its policy file lack one of these policies?); the policies' fallbacks decide",
            metadata: ["error": "\(error.message)", "policies": "\(policies.joined(separator: ","))"]
        )
    }

    /// The policies' fallbacks' answer to `wants` (the limiter unreachable or refusing them), each allowed
    /// policy granted its cost to spend at once; policies the catalog lacks (only while a reload swaps the
    /// files) are allowed.
    private func fallbackResponse(_ wants: [LeaseTable.Want], catalog: PolicyCatalog, now: ContinuousClock.Instant) -> LimiterDecision {
        var known: [Int] = []
        let items = wants.enumerated().compactMap { index, want in
            catalog.policies[want.key.policy].map { policy in
                known.append(index)
                return PolicyFallback.Item(policy: policy, key: want.key.key, cost: want.cost)
            }
        }
        var statuses = wants.map { want in
            var status = LimiterDecision.PolicyStatus()
            status.policy = want.key.policy
            status.allowed = true
            status.granted = UInt32(clamping: want.cost)
            return status
        }
        guard !items.isEmpty else { return LimiterDecision(allowed: true, statuses: statuses, source: .fallbackAllow) }
        let replicas = self.fleet?.size?.edges ?? catalog.replicas
        let decided = self.fallback.withLock {
            // `deny` refuses for a second at a time: the limiter is asked again after that.
            $0.decide(items, replicas: max(1, replicas), denyRetryAfter: .seconds(1), now: now).decision
        }
        for (position, index) in known.enumerated() {
            statuses[index] = decided.statuses[position]
            if decided.allowed { statuses[index].granted = UInt32(clamping: wants[index].cost) }
        }
        let source = switch decided.source {
        case .fallbackDeny: "fallback_deny"
        case .fallbackLocal: "fallback_local"
        default: "fallback_allow"
        }
        EdgeMetrics.limiterFallback(source).increment()
        return LimiterDecision(allowed: decided.allowed, statuses: statuses, source: decided.source)
    }

    /// The decision and headers of a limiter answer (draft-ietf-httpapi-ratelimit-headers: one item per policy).
    static func decision(_ response: LimiterDecision) -> Decision {
        let statuses = response.statuses
        var headers: [(name: String, value: String)] = []
        if !statuses.isEmpty {
            headers = [("RateLimit-Policy", Self.fieldValue(statuses, state: false)), ("RateLimit", Self.fieldValue(statuses, state: true))]
        }
        let deciding = response.decidingIndex < statuses.count ? statuses[response.decidingIndex] : nil
        let retryAfter = response.allowed ? 0 : max(1, Int(((deciding?.retryAfterMilliseconds ?? 1000) + 999) / 1000))
        return Decision(
            allowed: response.allowed,
            retryAfterSeconds: retryAfter,
            deniedBy: response.allowed ? nil : deciding?.policy,
            headers: headers
        )
    }

    /// A `RateLimit-Policy` value (per status `"<policy>";q=<limit>;w=<window>`) or, when `state`, a
    /// `RateLimit` value (`"<policy>";r=<remaining>;t=<seconds to reset>`), joined by `, `: written in one
    /// allocation, each status read in place (this runs for every request).
    private static func fieldValue(_ statuses: [LimiterDecision.PolicyStatus], state: Bool) -> String {
        var room = 0
        for index in statuses.indices { room += statuses[index].policy.utf8.count + 2 * ASCIIBytes.maximumDecimalLength + 12 }
        return String(unsafeUninitializedCapacity: room) { buffer in
            var bytes = ASCIIBytes(room: UnsafeMutableRawBufferPointer(buffer))
            for index in statuses.indices {
                if index > 0 { bytes.put(", ") }
                bytes.put(UInt8(ascii: "\""))
                bytes.put(statuses[index].policy)
                bytes.put(UInt8(ascii: "\""))
                if state {
                    let reset = statuses[index].resetMilliseconds
                    bytes.put(";r=")
                    bytes.put(decimal: Int(statuses[index].remaining))
                    bytes.put(";t=")
                    bytes.put(decimal: Int(clamping: reset / 1000 + (reset % 1000 > 0 ? 1 : 0)))
                } else {
                    bytes.put(";q=")
                    bytes.put(decimal: Int(statuses[index].limit))
                    bytes.put(";w=")
                    bytes.put(decimal: Int(statuses[index].windowSeconds))
                }
            }
            return bytes.count
        }
    }
}
