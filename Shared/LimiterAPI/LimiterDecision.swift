/// The limiter's answer to one ``LimiterRequest``: whether it may proceed, and each policy's state after it.
public struct LimiterDecision: Sendable, Equatable {
    /// Where a decision came from.
    public enum Source: Sendable, Equatable {
        /// Decided atomically in Redis.
        case redis
        /// A recent denial remembered by the limiter until its retry-after passes.
        case denialCache
        /// Redis unreachable: the policy's `on_redis_failure` said allow.
        case fallbackAllow
        /// Redis unreachable: the policy's `on_redis_failure` said deny.
        case fallbackDeny
        /// Redis unreachable: an in-process GCRA at limit ÷ replicas decided.
        case fallbackLocal
    }

    /// The state of one policy after the decision.
    public struct PolicyStatus: Sendable, Equatable {
        /// The policy's name.
        public var policy = ""
        /// Whether this policy alone would allow the request.
        public var allowed = false
        /// The policy's limit.
        public var limit: UInt32 = 0
        /// The policy's period in seconds.
        public var windowSeconds: UInt32 = 0
        /// Units left.
        public var remaining: UInt32 = 0
        /// Milliseconds until the policy is fully replenished.
        public var resetMilliseconds: UInt64 = 0
        /// Milliseconds until a denied request would be allowed; 0 when allowed.
        public var retryAfterMilliseconds: UInt64 = 0
        /// The policy is in shadow mode: counted, never denying.
        public var shadow = false
        /// Leases only: units granted to the caller (its cost plus extra units), already debited; 0 when denied.
        public var granted: UInt32 = 0
        /// Leases only: how long the granted units may be spent, counted from when the request was sent;
        /// 0: spend them at once.
        public var leaseMilliseconds: UInt64 = 0
        /// Leases only: the window the units were granted in, which a ``LimiterRelease`` of them names.
        public var epoch: UInt64 = 0

        /// Creates a status that allows nothing and names no policy.
        public init() {}
    }

    /// Whether the request may proceed.
    public var allowed: Bool
    /// Index into ``statuses`` of the deciding policy: the first that denied, or, when all allowed, the one
    /// with the least remaining.
    public var decidingIndex: Int
    /// One per request item, in request order.
    public var statuses: [PolicyStatus]
    /// Where the decision came from.
    public var source: Source

    /// A decision whose deciding status is the first denial, else the one with the least remaining.
    public init(allowed: Bool, statuses: [PolicyStatus], source: Source) {
        self.allowed = allowed
        self.statuses = statuses
        self.source = source
        self.decidingIndex = Self.decidingIndex(allowed: allowed, statuses: statuses, remaining: \.remaining, isAllowed: \.allowed)
    }

    /// The index of the deciding status: the first denial, or, when all allowed, the one with the least
    /// remaining; 0 when there is none. Shared with the wire form's answers.
    public static func decidingIndex<Status>(
        allowed: Bool, statuses: [Status], remaining: KeyPath<Status, UInt32>, isAllowed: KeyPath<Status, Bool>
    ) -> Int {
        let deciding = allowed
            ? statuses.indices.min { statuses[$0][keyPath: remaining] < statuses[$1][keyPath: remaining] }
            : statuses.firstIndex { !$0[keyPath: isAllowed] }
        return deciding ?? 0
    }
}
