import GatehouseRPC

/// The limiter's RPC methods; the limiter serves them, the edge router and the auth issuer call them.
public enum LimiterMethods {
    /// Decides the items together and charges them only if all allow.
    public static let check = RPCMethod<Gatehouse_Limiter_CheckRequest, Gatehouse_Limiter_CheckResponse>("limiter.Check")
    /// Decides several independent requests, each as ``check`` would, in one call.
    public static let checkBatch = RPCMethod<Gatehouse_Limiter_CheckBatchRequest, Gatehouse_Limiter_CheckBatchResponse>("limiter.CheckBatch")
    /// Decides like ``check`` without charging anything.
    public static let peek = RPCMethod<Gatehouse_Limiter_CheckRequest, Gatehouse_Limiter_CheckResponse>("limiter.Peek")
    /// Forgets one policy's counter for one key.
    public static let reset = RPCMethod<Gatehouse_Limiter_ResetRequest, Gatehouse_Limiter_ResetResponse>("limiter.Reset")
}
