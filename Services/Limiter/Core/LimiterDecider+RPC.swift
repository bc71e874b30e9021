import GatehouseLimiterAPI
import GatehouseRPC

extension LimiterDecider {
    /// The limiter's RPC methods (`limiter.Check`, `limiter.CheckBatch`, `limiter.AcquireBatch`, `limiter.Release`, `limiter.Peek`,
    /// `limiter.Reset`; docs/protocol.md),
    /// answered by this decider.
    package var rpcHandlers: RPCHandlerRegistry {
        var handlers = RPCHandlerRegistry()
        handlers.register(LimiterMethods.check) { request, _ in try await self.check(request) }
        handlers.register(LimiterMethods.checkBatch) { batch, _ in try await self.checkBatch(batch) }
        handlers.register(LimiterMethods.acquireBatch) { batch, _ in try await self.acquireBatch(batch) }
        handlers.register(LimiterMethods.release) { request, _ in try await self.release(request) }
        handlers.register(LimiterMethods.peek) { request, _ in try await self.peek(request) }
        handlers.register(LimiterMethods.reset) { request, _ in
            try await self.reset(request)
            return Gatehouse_Limiter_ResetResponse()
        }
        return handlers
    }
}
