import GatehouseRedis
import Logging

/// Decides rate limits with state in Redis, through one Lua script, so that any number of limiter replicas
/// sharing the Redis server agree exactly.
///
/// Each call decides all its items atomically and all or nothing: a request is charged against every item
/// only when every item allows it. Time is Redis' clock, never this process's.
package final class RedisRateLimiter: Sendable {
    private let client: RedisClient
    private let batcher: RateLimitBatcher
    private let logger: Logger

    /// Creates a limiter on a client; the client's `run()` must be going for commands to flow.
    ///
    /// - Parameters:
    ///   - client: The Redis client; the script is loaded into Redis on first use and after a `SCRIPT FLUSH`.
    ///   - logger: Receives a debug line per denied request.
    package init(client: RedisClient, logger: Logger) {
        self.client = client
        self.batcher = RateLimitBatcher(client: client)
        self.logger = logger
    }

    /// Decides a request and, when every item allows it, charges each item its cost.
    ///
    /// - Parameter items: The policies that apply to the request, each with its own key; decided together.
    /// - Returns: The decision; nothing was charged unless ``RateLimitDecision/allowed`` is `true`.
    /// - Throws: ``RateLimitItemError`` for invalid items (before contacting Redis), ``RedisError`` when Redis
    ///   cannot be reached or answers with an error, ``RateLimitReplyError`` for an unexpected reply.
    package func check(_ items: [RateLimitItem]) async throws -> RateLimitDecision {
        try await self.decide(items, mode: .check)
    }

    /// Decides a request as ``check(_:)`` would, without charging anything.
    ///
    /// - Parameter items: The policies that apply to the request, each with its own key.
    /// - Returns: The decision ``check(_:)`` would return now, remaining units included.
    /// - Throws: The same errors as ``check(_:)``.
    package func peek(_ items: [RateLimitItem]) async throws -> RateLimitDecision {
        try await self.decide(items, mode: .peek)
    }

    /// Grants a lease: decides a request as ``check(_:)`` would and, when every item allows it, debits each
    /// item its cost plus up to `extras[i]` more units (at most a `2 × fleetSize`-th of what it would have
    /// left), all granted to the caller to spend until the lease ends.
    ///
    /// - Parameters:
    ///   - items: The policies that apply to the request, each with its own key; `cost` is the triggering
    ///     request's (0 asks for extra units only).
    ///   - extras: Units wanted beyond the cost, one per item.
    ///   - fleetSize: The live edges sharing the budget (at least 1).
    ///   - leasePeriod: The longest lease; a lease also ends with its window (window algorithms) or when the
    ///     budget would be full again (rate algorithms).
    /// - Returns: The decision; each item's ``RateLimitItemDecision/granted``, ``RateLimitItemDecision/lease``
    ///   and ``RateLimitItemDecision/epoch`` say what was granted. Nothing was debited unless it allows.
    /// - Throws: The same errors as ``check(_:)``.
    package func acquire(_ items: [RateLimitItem], extras: [Int], fleetSize: Int, leasePeriod: Duration) async throws -> RateLimitDecision {
        precondition(extras.count == items.count, "one extra per item")
        try self.validate(items)
        let terms = RateLimitScript.LeaseTerms(fleetSize: fleetSize, period: leasePeriod, extras: extras)
        return try await self.decide(validated: items, mode: .acquire(terms))
    }

    /// Credits unspent lease units back: each item's `cost` is the number of units returned.
    ///
    /// - Parameters:
    ///   - items: The policies and keys the units were granted for, with the units as `cost`.
    ///   - epochs: Each grant's ``RateLimitItemDecision/epoch``, one per item.
    /// - Returns: The units credited back per item (fewer than returned when a window had ended meanwhile).
    /// - Throws: The same errors as ``check(_:)``.
    package func release(_ items: [RateLimitItem], epochs: [Int64]) async throws -> [Int] {
        precondition(epochs.count == items.count, "one epoch per item")
        try self.validate(items)
        return try await self.decide(validated: items, mode: .release(epochs: epochs)).items.map(\.granted)
    }

    /// Forgets a key's state, so its next request starts from a full budget.
    ///
    /// - Parameter key: The ``RateLimitItem/key`` to reset.
    /// - Throws: ``RedisError`` when Redis cannot be reached or answers with an error.
    package func reset(key: String) async throws {
        _ = try await self.client.send(["DEL", key])
    }

    /// The `EVALSHA` arguments (script SHA1, key count, keys, script arguments) that ``check(_:)`` sends for
    /// `items` when they are alone in their batch, and the script itself: for running the same command with
    /// `redis-benchmark`.
    /// - Parameter items: The items of one request.
    package static func benchmarkCommand(for items: [RateLimitItem]) -> (script: RedisScript, arguments: [String]) {
        let requests = [RateLimitScript.Request(items: items, mode: .check)]
        let keys = RateLimitScript.keys(for: requests)
        return (RateLimitScript.script, [RateLimitScript.script.sha1, String(keys.count)] + keys + RateLimitScript.arguments(for: requests))
    }

    private func decide(_ items: [RateLimitItem], mode: RateLimitScript.Mode) async throws -> RateLimitDecision {
        try self.validate(items)
        return try await self.decide(validated: items, mode: mode)
    }

    /// Checks `items` before they go to Redis: every field's range and no key twice (``[RateLimitItem].validate()``)
    /// and, on a Redis Cluster, all keys in one hash slot (``[RateLimitItem].validateSharedSlot()``).
    /// - Throws: ``RateLimitItemError`` naming the first problem.
    func validate(_ items: [RateLimitItem]) throws(RateLimitItemError) {
        try items.validate()
        if self.client.isCluster {
            try items.validateSharedSlot()
        }
    }

    /// Decides items that passed `validate(_:)` already (the ``LimiterDecider`` validates before choosing
    /// between Redis and the fallbacks).
    func decide(validated items: [RateLimitItem], mode: RateLimitScript.Mode) async throws -> RateLimitDecision {
        let decision = try await self.batcher.decide(RateLimitScript.Request(items: items, mode: mode))
        self.logIfDenied(decision, items: items, mode: mode)
        return decision
    }

    /// Decides requests that arrived together, each on its own and all or nothing, in as few script calls as
    /// the batch size allows (see ``RateLimitBatcher/decideAll(_:)``); every request's items passed `validate(_:)`.
    /// - Returns: One outcome per request, in order: its decision, or the error of its script call.
    func decide(validatedRequests requests: [RateLimitScript.Request]) async -> [RateLimitBatcher.Outcome] {
        let outcomes = await self.batcher.decideAll(requests)
        for (request, outcome) in zip(requests, outcomes) {
            if case .success(let decision) = outcome {
                self.logIfDenied(decision, items: request.items, mode: request.mode)
            }
        }
        return outcomes
    }

    private func logIfDenied(_ decision: RateLimitDecision, items: [RateLimitItem], mode: RateLimitScript.Mode) {
        guard !decision.allowed else { return }
        self.logger.debug(
            "Rate limit denied a request",
            metadata: [
                "rate-limit.key": "\(items[decision.decidingIndex].key)",
                "rate-limit.retry-after": "\(decision.deciding.retryAfter)",
                "rate-limit.mode": "\(mode.name)",
            ]
        )
    }
}
