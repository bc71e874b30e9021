import GatehouseRPC

/// The limiter's RPC methods; the limiter serves them, the edge router and the auth issuer call them.
public enum LimiterMethods {
    /// Decides the items together and charges them only if all allow.
    public static let check = RPCMethod<Gatehouse_Limiter_CheckRequest, Gatehouse_Limiter_CheckResponse>("limiter.Check")
    /// Decides several independent requests, each as ``check`` would, in one call.
    public static let checkBatch = RPCMethod<Gatehouse_Limiter_CheckBatchRequest, Gatehouse_Limiter_CheckBatchResponse>("limiter.CheckBatch")
    /// Grants leases: for each request, as ``checkBatch`` decides it, the cost plus extra units per item,
    /// debited from the policies' state, for the caller to spend locally until the lease ends.
    public static let acquireBatch = RPCMethod<Gatehouse_Limiter_CheckBatchRequest, Gatehouse_Limiter_CheckBatchResponse>("limiter.AcquireBatch")
    /// Credits unspent lease units back.
    public static let release = RPCMethod<Gatehouse_Limiter_ReleaseRequest, Gatehouse_Limiter_ReleaseResponse>("limiter.Release")
    /// Decides like ``check`` without charging anything.
    public static let peek = RPCMethod<Gatehouse_Limiter_CheckRequest, Gatehouse_Limiter_CheckResponse>("limiter.Peek")
    /// Forgets one policy's counter for one key.
    public static let reset = RPCMethod<Gatehouse_Limiter_ResetRequest, Gatehouse_Limiter_ResetResponse>("limiter.Reset")
}
