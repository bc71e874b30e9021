import GatehouseLimiterAPI

extension Gatehouse_Limiter_CheckRequest {
    /// A check of one item with the policy's default cost, by the caller `bench`.
    static func bench(policy: String, key: String) -> Self {
        var item = Gatehouse_Limiter_CheckItem()
        item.policy = policy
        item.key = key
        var request = Gatehouse_Limiter_CheckRequest()
        request.caller = "bench"
        request.items = [item]
        return request
    }
}
