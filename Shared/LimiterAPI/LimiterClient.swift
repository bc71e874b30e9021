import GatehouseRPC

/// The limiter as its callers speak to it: ``LimiterRequest``s in, ``LimiterDecision``s out, failures as
/// ``LimiterClientError``s; the wire messages (``LimiterMethods``) stay inside. Every call goes over one
/// ``RPCClient``, whose `run()` its owner keeps going.
public struct LimiterClient: Sendable {
    private let rpc: RPCClient

    /// Creates a client over a connection pool to the limiter.
    public init(rpc: RPCClient) {
        self.rpc = rpc
    }

    /// Decides a request and charges its items if all allow (`limiter.Check`).
    /// - Parameters:
    ///   - request: The policies to decide.
    ///   - traceID: The originating HTTP request id, for the limiter's logs.
    /// - Throws: ``LimiterClientError``; `CancellationError` when the calling task is cancelled.
    public func check(_ request: LimiterRequest, traceID: String? = nil) async throws -> LimiterDecision {
        let request = Gatehouse_Limiter_CheckRequest(request)
        return LimiterDecision(try await self.rpc.call(LimiterMethods.check, request, traceID: traceID, failingWith: LimiterFailure.self))
    }

    /// Decides a request like ``check(_:traceID:)`` without charging anything (`limiter.Peek`).
    /// - Throws: ``LimiterClientError``; `CancellationError` when the calling task is cancelled.
    public func peek(_ request: LimiterRequest, traceID: String? = nil) async throws -> LimiterDecision {
        let request = Gatehouse_Limiter_CheckRequest(request)
        return LimiterDecision(try await self.rpc.call(LimiterMethods.peek, request, traceID: traceID, failingWith: LimiterFailure.self))
    }

    /// Decides several independent requests, each as ``check(_:traceID:)`` would, in one call (`limiter.CheckBatch`).
    /// - Returns: One outcome per request, in order; one request's error does not affect the others.
    /// - Throws: ``LimiterClientError`` when the call as a whole failed; `CancellationError`.
    public func checkBatch(_ requests: [LimiterRequest]) async throws -> [Result<LimiterDecision, LimiterClientError>] {
        let batch = Gatehouse_Limiter_CheckBatchRequest(requests)
        let answer = try await self.rpc.call(LimiterMethods.checkBatch, batch, traceID: nil, failingWith: LimiterFailure.self)
        return answer.outcomes.map(Self.outcome)
    }

    /// Asks for leases (`limiter.AcquireBatch`): for each request, decided as ``checkBatch(_:)`` decides it, its
    /// items' cost plus extra units, debited at the limiter, for the caller to spend until the lease ends.
    /// - Throws: ``LimiterClientError`` when the call as a whole failed (``LimiterFailure/methodUnknown``
    ///   from a limiter too old to grant leases); `CancellationError`.
    public func acquireBatch(_ requests: [LimiterRequest]) async throws -> LimiterLeaseAnswer {
        let batch = Gatehouse_Limiter_CheckBatchRequest(requests)
        let answer = try await self.rpc.call(LimiterMethods.acquireBatch, batch, traceID: nil, failingWith: LimiterFailure.self)
        return LimiterLeaseAnswer(
            outcomes: answer.outcomes.map(Self.outcome), liveEdges: Int(answer.liveEdges), leasePeriodMilliseconds: answer.leasePeriodMs
        )
    }

    /// Credits unspent lease units back (`limiter.Release`).
    /// - Returns: The units credited in all (fewer than returned when a window had ended).
    /// - Throws: ``LimiterClientError``; `CancellationError`.
    public func release(_ releases: [LimiterRelease]) async throws -> Int {
        var request = Gatehouse_Limiter_ReleaseRequest()
        request.items = releases.map { release in
            var item = Gatehouse_Limiter_ReleaseItem()
            item.policy = release.policy
            item.key = release.key
            item.units = UInt32(clamping: release.units)
            item.epoch = release.epoch
            return item
        }
        return Int(try await self.rpc.call(LimiterMethods.release, request, traceID: nil, failingWith: LimiterFailure.self).credited)
    }

    /// One outcome of a batch answer.
    private static func outcome(_ outcome: Gatehouse_Limiter_CheckOutcome) -> Result<LimiterDecision, LimiterClientError> {
        switch outcome.result {
        case .response(let response):
            .success(LimiterDecision(response))
        case .error(let error):
            .failure(LimiterClientError(RPCError(RPCError.Code(rawValue: Int(error.code)) ?? .internal, error.message)))
        case nil:
            .failure(LimiterClientError(.failed, "the limiter answered a batched request with neither a response nor an error"))
        }
    }
}
