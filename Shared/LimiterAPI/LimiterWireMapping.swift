// The mapping between the limiter's domain types and its wire messages, in one place.

extension Gatehouse_Limiter_CheckRequest {
    /// The wire form of a request.
    init(_ request: LimiterRequest) {
        self.init()
        self.caller = request.caller
        self.items = request.items.map { item in
            var check = Gatehouse_Limiter_CheckItem()
            check.policy = item.policy
            check.key = item.key
            if let cost = item.cost { check.cost = UInt32(clamping: cost) }
            check.extra = UInt32(clamping: item.extra)
            return check
        }
    }
}

extension Gatehouse_Limiter_CheckBatchRequest {
    /// The wire form of a batch of requests.
    init(_ requests: [LimiterRequest]) {
        self.init()
        self.requests = requests.map(Gatehouse_Limiter_CheckRequest.init)
    }
}

extension LimiterDecision {
    /// The decision a wire answer carries (from the limiter, or from the policies' fallback, which speaks its form).
    public init(_ response: Gatehouse_Limiter_CheckResponse) {
        self.init(allowed: response.allowed, statuses: response.statuses.map(PolicyStatus.init), source: Source(response.source))
        self.decidingIndex = Int(response.decidingIndex)
    }
}

extension LimiterDecision.PolicyStatus {
    /// The status a wire status carries.
    init(_ status: Gatehouse_Limiter_PolicyStatus) {
        self.init()
        (self.policy, self.allowed, self.shadow) = (status.policy, status.allowed, status.shadow)
        (self.limit, self.windowSeconds, self.remaining) = (status.limit, status.windowSeconds, status.remaining)
        (self.resetMilliseconds, self.retryAfterMilliseconds) = (status.resetMs, status.retryAfterMs)
        (self.granted, self.leaseMilliseconds, self.epoch) = (status.granted, status.leaseMs, status.epoch)
    }
}

extension LimiterDecision.Source {
    /// The source a wire source names; an unknown one (a newer limiter) as decided in Redis.
    init(_ source: Gatehouse_Limiter_DecisionSource) {
        self = switch source {
        case .denialCache: .denialCache
        case .fallbackAllow: .fallbackAllow
        case .fallbackDeny: .fallbackDeny
        case .fallbackLocal: .fallbackLocal
        case .redis, .UNRECOGNIZED: .redis
        }
    }
}
