/// One request to the limiter: the policies to decide together, all or nothing, for one caller
/// (docs/protocol.md, "Limiter").
public struct LimiterRequest: Sendable, Equatable {
    /// One policy to decide for the request.
    public struct Item: Sendable, Equatable {
        /// The policy's name in the limiter's policy file.
        public var policy: String
        /// The value of the policy's key parts, joined by the caller (e.g. `203.0.113.7` for `[ip]`).
        public var key: String
        /// Units to spend; `nil`: the policy's default cost.
        public var cost: Int?
        /// Leases only: units wanted beyond the cost, to be held by the caller; 0 asks for the cost alone.
        public var extra: Int

        /// Creates an item.
        public init(policy: String, key: String, cost: Int? = nil, extra: Int = 0) {
            self.policy = policy
            self.key = key
            self.cost = cost
            self.extra = extra
        }
    }

    /// Names the caller (subject, client id or address) in the limiter's denial log lines; no counter depends on it.
    public var caller: String
    /// The policies, decided together: if any denies, none is charged.
    public var items: [Item]

    /// Creates a request.
    public init(caller: String, items: [Item]) {
        self.caller = caller
        self.items = items
    }
}
