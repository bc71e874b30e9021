import GatehouseAuthAPI
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseNIOSupport
import GatehouseRPC
import JWTKit
import Logging
import Metrics
import Synchronization

/// The edge's side of rate limiting: one limiter decision per request with the route's policies for the
/// caller, each keyed as its `key` parts say (``PolicyKeyValues``, from the policy file), the IETF
/// `RateLimit-Policy`/`RateLimit` headers, and a local memory of denials so a flooding caller is answered 429
/// without an RPC until its retry-after passes. The memory is per set of (policy, key value), so a denial
/// of a `[sub, route]` policy on one route never refuses the same caller on another.
///
/// Checks go through a ``CallBatcher``: a request alone in its event-loop tick is one `limiter.Check`; the
/// checks of one tick's requests, and those that arrive while 4 calls of their event loop are in flight, go
/// out together, up to 64 as one `limiter.CheckBatch`, each still decided and charged on its own by the
/// limiter. A limiter too old to know `limiter.CheckBatch` (`unimplemented`, so nothing was charged) gets that
/// batch as single checks.
///
/// The limiter unreachable (or too slow, past `limiter.call_timeout_ms`): counted in
/// `gatehouse_edge_limiter_failures_total` and logged once per outage, and each policy's `on_redis_failure`
/// decides (``PolicyFallback``: `allow`, `deny`, or `local` at limit ÷ the file's `replicas`, one counter
/// per policy and key value). The limiter refusing a check as invalid (`INVALID_ARGUMENT`: a policy its own
/// policy file lacks) is decided the same way, never let through unchecked: counted in
/// `gatehouse_edge_limiter_refused_checks_total` and logged at most once a minute. A `Peek` (asking only)
/// is allowed when the limiter cannot answer it. The limiter's own fallbacks cover a Redis outage behind it.
public final class EdgeRateLimiter: Sendable {
    /// The decision for one request.
    public struct Decision: Sendable, Equatable {
        /// Whether the request may proceed.
        public var allowed: Bool
        /// Seconds until a denied request may be retried (`Retry-After`).
        public var retryAfterSeconds: Int
        /// The policy that denied, for the problem body.
        public var deniedBy: String?
        /// The `RateLimit-Policy` and `RateLimit` header fields (empty when nothing was checked).
        public var headers: [(name: String, value: String)]

        public static func == (lhs: Decision, rhs: Decision) -> Bool {
            lhs.allowed == rhs.allowed && lhs.retryAfterSeconds == rhs.retryAfterSeconds && lhs.deniedBy == rhs.deniedBy
                && lhs.headers.map(\.value) == rhs.headers.map(\.value)
        }

        static let unchecked = Decision(allowed: true, retryAfterSeconds: 0, deniedBy: nil, headers: [])
    }

    /// A denial remembered until its retry-after passes: the limiter's answer and when it was given, so a
    /// repeat gets `Retry-After` and each `RateLimit` reset counted down to the moment it asks. The decision
    /// is built again only when one of those whole seconds changes.
    private struct Denial {
        let until: ContinuousClock.Instant
        let decidedAt: ContinuousClock.Instant
        let response: Gatehouse_Limiter_CheckResponse
        /// The decision for the moments before `builtUntil`.
        private(set) var built: Decision
        private(set) var builtUntil: ContinuousClock.Instant

        /// Remembers the limiter's answer and the decision made of it at `decidedAt`; a repeat builds its own.
        init(until: ContinuousClock.Instant, decidedAt: ContinuousClock.Instant, response: Gatehouse_Limiter_CheckResponse, decision: Decision) {
            (self.until, self.decidedAt, self.response) = (until, decidedAt, response)
            (self.built, self.builtUntil) = (decision, decidedAt)
        }

        /// Builds the decision as the limiter would give it at `now`, nothing having been charged since, and
        /// notes until when its whole seconds hold.
        mutating func build(at now: ContinuousClock.Instant) {
            let elapsed = UInt64(max(0, (now - self.decidedAt) / .milliseconds(1)))
            var holdsFor = UInt64.max  // milliseconds after `elapsed`
            func countDown(_ milliseconds: inout UInt64) {
                milliseconds -= min(elapsed, milliseconds)
                // Rounded up to seconds, it shows its current value until it reaches the second below.
                if milliseconds > 0 { holdsFor = min(holdsFor, milliseconds - (milliseconds - 1) / 1000 * 1000) }
            }
            var response = self.response
            for index in response.statuses.indices {
                countDown(&response.statuses[index].resetMs)
                countDown(&response.statuses[index].retryAfterMs)
            }
            self.built = EdgeRateLimiter.decision(response)
            self.builtUntil = holdsFor == .max ? self.until : self.decidedAt + .milliseconds(Int64(elapsed + holdsFor))
        }
    }

    /// One limiter check: the request and the HTTP request's id for the limiter's logs.
    private typealias PendingCheck = (request: Gatehouse_Limiter_CheckRequest, traceID: String)

    private let limiter: RPCClient
    private let checks: CallBatcher<PendingCheck, Result<Gatehouse_Limiter_CheckResponse, RPCError>>
    private let denials = Mutex<[String: Denial]>([:])
    private let denialCapacity: Int
    private let failing = Atomic<Bool>(false)
    private let policies: Mutex<PolicyCatalog>
    private let apiKeyHeader: String?
    private let fallback = Mutex(PolicyFallback())
    /// When a refused check was last logged.
    private let refusalLogged = Mutex<ContinuousClock.Instant?>(nil)
    private let logger: Logger

    /// How often, at most, a check the limiter refused is logged.
    static let refusalLogInterval = Duration.seconds(60)

    /// Creates the gate.
    /// - Parameters:
    ///   - limiter: The limiter's RPC client; its `run()` must be going.
    ///   - policies: The limiter's policy file: each policy's key parts and fallback.
    ///   - apiKeyHeader: The request header whose value is the `api_key` key part, lower-case (`policies.api_key_header`).
    ///   - denialCapacity: How many denied callers are remembered.
    ///   - logger: Receives limiter outages and refusals.
    public init(limiter: RPCClient, policies: PolicyCatalog, apiKeyHeader: String? = nil, denialCapacity: Int = 100_000, logger: Logger) {
        self.limiter = limiter
        self.checks = CallBatcher { checks in try await Self.send(checks, to: limiter) }
        self.policies = Mutex(policies)
        self.apiKeyHeader = apiKeyHeader
        self.denialCapacity = denialCapacity
        self.logger = logger
    }

    /// The values a request offers the policies' keys.
    /// - Parameters:
    ///   - request: The request (its address, method and API-key header).
    ///   - route: The matched route's template.
    ///   - claims: The verified token's claims; `nil` for an anonymous caller.
    ///   - tier: The name of the tier that chose the policies.
    public func keyValues(of request: EdgeRequest, route: String, claims: AccessTokenClaims?, tier: String) -> PolicyKeyValues {
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
    ///   - charge: `limiter.Check` (spend one unit) when `true`, `limiter.Peek` (ask only) when `false`.
    public func decide(policies: [String], for caller: PolicyKeyValues, requestID: String, charge: Bool = true) async -> Decision {
        guard !policies.isEmpty else { return .unchecked }
        let catalog = self.policies.withLock { $0 }
        var request = Gatehouse_Limiter_CheckRequest()
        request.caller = caller.caller
        request.items.reserveCapacity(policies.count)
        // The memory of denials is per (policy, key value) of every item.
        var memoryKey = ""
        var previous: (parts: [PolicyKeyPart], key: String)?
        for policy in policies {
            // A name the catalog lacks (only while a reload swaps the files) is keyed by the caller.
            let parts = catalog.policies[policy]?.key ?? [.sub]
            let key = previous.flatMap { $0.parts == parts ? $0.key : nil } ?? caller.key(parts)
            previous = (parts, key)
            var item = Gatehouse_Limiter_CheckItem()
            item.policy = policy
            item.key = key
            request.items.append(item)
            memoryKey += policy
            memoryKey += "\u{1F}"
            memoryKey += key
            memoryKey += "\u{1E}"
        }
        let now = ContinuousClock.now
        if let remembered = self.rememberedDenial(memoryKey, now: now) {
            return remembered
        }
        let response: Gatehouse_Limiter_CheckResponse
        do {
            if charge {
                response = try await self.checks.submit((request, requestID)).get()
            } else {
                response = try await self.limiter.call(LimiterMethods.peek, request, traceID: requestID)
            }
            if self.failing.exchange(false, ordering: .relaxed) {
                self.logger.notice("the limiter answers again")
            }
        } catch let error as RPCError where error.code == .invalidArgument {
            EdgeMetrics.limiterRefusedChecks.increment()
            self.logRefusal(error, policies: policies)
            guard charge, let fallback = self.fallbackResponse(request.items, catalog: catalog, now: now) else { return .unchecked }
            response = fallback
        } catch {
            EdgeMetrics.limiterFailures.increment()
            if !self.failing.exchange(true, ordering: .relaxed) {
                self.logger.warning("cannot reach the limiter; the policies' fallbacks decide", metadata: ["error": "\(error)"])
            }
            guard charge, let fallback = self.fallbackResponse(request.items, catalog: catalog, now: now) else { return .unchecked }
            response = fallback
        }
        let decision = Self.decision(response)
        EdgeMetrics.limiterDecision(allowed: decision.allowed).increment()
        if !decision.allowed {
            let until = now + .milliseconds(Int64(decision.retryAfterSeconds) * 1000)
            self.denials.withLock { denials in
                if denials.count >= self.denialCapacity {
                    denials = denials.filter { $0.value.until > now }
                    if denials.count >= self.denialCapacity { denials.removeAll(keepingCapacity: true) }
                }
                denials[memoryKey] = Denial(until: until, decidedAt: now, response: response, decision: decision)
            }
        }
        return decision
    }

    /// The remembered denial of `memoryKey` as of `now`, if its retry-after has not passed.
    private func rememberedDenial(_ memoryKey: String, now: ContinuousClock.Instant) -> Decision? {
        self.denials.withLock { denials in
            guard var denial = denials[memoryKey], denial.until > now else { return nil }
            if now >= denial.builtUntil {
                denial.build(at: now)
                denials[memoryKey] = denial
            }
            return denial.built
        }
    }

    /// Sends one batch of checks: `limiter.Check` for one, `limiter.CheckBatch` for more (or single checks
    /// when the limiter does not know that method); an outcome per check, in order.
    private static func send(_ checks: [PendingCheck], to limiter: RPCClient) async throws -> [Result<Gatehouse_Limiter_CheckResponse, RPCError>] {
        if checks.count == 1 {
            return [.success(try await limiter.call(LimiterMethods.check, checks[0].request, traceID: checks[0].traceID))]
        }
        var batch = Gatehouse_Limiter_CheckBatchRequest()
        batch.requests = checks.map(\.request)
        let answer: Gatehouse_Limiter_CheckBatchResponse
        do {
            answer = try await limiter.call(LimiterMethods.checkBatch, batch)
        } catch let error as RPCError where error.code == .unimplemented {
            return await checks.concurrentMap { check in
                do {
                    return .success(try await limiter.call(LimiterMethods.check, check.request, traceID: check.traceID))
                } catch {
                    return .failure(error as? RPCError ?? RPCError(.unavailable, "\(error)"))
                }
            }
        }
        return answer.outcomes.map { outcome in
            switch outcome.result {
            case .response(let response):
                .success(response)
            case .error(let error):
                .failure(RPCError(RPCError.Code(rawValue: Int(error.code)) ?? .internal, error.message))
            case nil:
                .failure(RPCError(.protocolError, "the limiter answered a batched check with neither a response nor an error"))
            }
        }
    }

    /// Puts a new policy catalog in force (a reloaded policy file); requests in flight finish with the old one.
    public func replacePolicies(_ catalog: PolicyCatalog) {
        self.policies.withLock { $0 = catalog }
    }

    /// Logs a check the limiter refused, at most once per ``refusalLogInterval``.
    private func logRefusal(_ error: RPCError, policies: [String]) {
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

    /// The policies' fallbacks' answer to `items`, or `nil` when the catalog names none of them.
    private func fallbackResponse(_ items: [Gatehouse_Limiter_CheckItem], catalog: PolicyCatalog, now: ContinuousClock.Instant) -> Gatehouse_Limiter_CheckResponse? {
        let items = items.compactMap { item in catalog.policies[item.policy].map { PolicyFallback.Item(policy: $0, key: item.key, cost: $0.cost) } }
        guard !items.isEmpty else { return nil }
        let response = self.fallback.withLock {
            // `deny` refuses for a second at a time: the limiter is asked again after that.
            $0.decide(items, replicas: catalog.replicas, denyRetryAfter: .seconds(1), now: now).response
        }
        let source = switch response.source {
        case .fallbackDeny: "fallback_deny"
        case .fallbackLocal: "fallback_local"
        default: "fallback_allow"
        }
        EdgeMetrics.limiterFallback(source).increment()
        return response
    }

    /// The decision and headers of a limiter answer (draft-ietf-httpapi-ratelimit-headers: one item per policy).
    static func decision(_ response: Gatehouse_Limiter_CheckResponse) -> Decision {
        let statuses = response.statuses
        let policyHeader = statuses.map { "\"\($0.policy)\";q=\($0.limit);w=\($0.windowSeconds)" }.joined(separator: ", ")
        let stateHeader = statuses.map { "\"\($0.policy)\";r=\($0.remaining);t=\(($0.resetMs + 999) / 1000)" }.joined(separator: ", ")
        let deciding = Int(response.decidingIndex) < statuses.count ? statuses[Int(response.decidingIndex)] : nil
        let retryAfter = response.allowed ? 0 : max(1, Int(((deciding?.retryAfterMs ?? 1000) + 999) / 1000))
        return Decision(
            allowed: response.allowed,
            retryAfterSeconds: retryAfter,
            deniedBy: response.allowed ? nil : deciding?.policy,
            headers: statuses.isEmpty ? [] : [("RateLimit-Policy", policyHeader), ("RateLimit", stateHeader)]
        )
    }
}
