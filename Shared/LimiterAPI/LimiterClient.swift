import GatehouseRPC
import Logging

/// The limiter as its callers speak to it: ``LimiterRequest``s in, ``LimiterDecision``s out, failures as
/// ``LimiterClientError``s; the wire messages (``LimiterMethods``) stay inside. Every call goes over one
/// ``RPCClient``, whose `run()` its owner keeps going. Lease requests made through ``acquire(_:traceID:)`` are
/// batched (``LimiterCallBatcher``), and the denials they receive are remembered until their retry-after
/// (``LimiterDenialMemory``), both shared by every copy of the client; the other methods are one call each.
public struct LimiterClient: Sendable {
    private let rpc: RPCClient
    private let batcher: LimiterCallBatcher
    private let denials = LimiterDenialMemory()

    /// Creates a client over a connection pool to the limiter.
    /// - Parameters:
    ///   - rpc: The connection pool; its `run()` must be going while the client is used.
    ///   - callCounters: Count the calls that ``acquire(_:traceID:)``'s batches make; `nil`: not counted.
    ///   - logger: Receives the notice that the limiter grants no leases (an older version).
    public init(rpc: RPCClient, callCounters: LimiterCallCounters? = nil, logger: Logger = Logger(label: "gatehouse.limiter-client")) {
        self.rpc = rpc
        self.batcher = LimiterCallBatcher(rpc: rpc, counters: callCounters, logger: logger)
    }

    /// Asks for a lease for one request, in one batch with the other requests of this client made meanwhile
    /// (`limiter.AcquireBatch`; checks, each allowed policy granted its cost, while the limiter is one without it).
    /// - Parameters:
    ///   - request: The policies, each with its cost and the extra units wanted.
    ///   - traceID: The originating HTTP request id, for the limiter's logs when the request goes out as a check.
    /// - Returns: The request's decision, granted units included, or why it was not decided; a denial remembered
    ///   from an earlier answer (``rememberedDenial(of:at:)``) with no call.
    /// - Throws: ``LimiterClientError`` when the batch's call as a whole failed; `CancellationError`.
    public func acquire(_ request: LimiterRequest, traceID: String? = nil) async throws -> Result<LimiterDecision, LimiterClientError> {
        if let remembered = self.denials.answer(request, now: .now) { return .success(remembered) }
        let outcome = try await self.batcher.submit((request, traceID))
        if case .success(let decision) = outcome { self.denials.remember(decision, of: request, now: .now) }
        return outcome
    }

    /// The answer to `request` from the memory of denials at `now`, when one of its items was denied and its
    /// retry-after (whole seconds, rounded up) has not passed: the denied items with their status counted down
    /// to `now`, the others not consulted (allowed, nothing known but the policy's name); `nil` otherwise.
    public func rememberedDenial(of request: LimiterRequest, at now: ContinuousClock.Instant) -> LimiterDecision? {
        self.denials.answer(request, now: now)
    }

    /// Whether `policy` and `key` are denied in the memory of denials at `now` (what
    /// ``rememberedDenial(of:at:)`` would answer from), without building the answer.
    public func remembersDenial(policy: String, key: String, at now: ContinuousClock.Instant) -> Bool {
        self.denials.denies(policy: policy, key: key, now: now)
    }

    /// Remembers the denials of a decision the caller made for `request` itself, as those of a limiter's
    /// answer are (a fallback's while the limiter cannot be asked), so its repeats are answered alike.
    public func remember(_ decision: LimiterDecision, answering request: LimiterRequest, at now: ContinuousClock.Instant) {
        self.denials.remember(decision, of: request, now: now)
    }

    /// Whether ``acquire(_:traceID:)`` sends checks at `now`, the limiter being taken for one without
    /// `limiter.AcquireBatch`, so nothing granted is held for later.
    public func sendsChecksOnly(at now: ContinuousClock.Instant) -> Bool {
        self.batcher.sendsChecksOnly(at: now)
    }

    /// The limiter's longest lease in milliseconds, as its last `limiter.AcquireBatch` answer said (1 s until it says).
    public var leasePeriodMilliseconds: Int {
        self.batcher.leasePeriodMilliseconds
    }

    /// Decides a request and charges its items if all allow (`limiter.Check`).
    /// - Parameters:
    ///   - request: The policies to decide.
    ///   - traceID: The originating HTTP request id, for the limiter's logs.
    /// - Throws: ``LimiterClientError``; `CancellationError` when the calling task is cancelled.
    public func check(_ request: LimiterRequest, traceID: String? = nil) async throws -> LimiterDecision {
        try await Self.check(request, traceID: traceID, over: self.rpc)
    }

    /// `limiter.Check` over `rpc`.
    static func check(_ request: LimiterRequest, traceID: String?, over rpc: RPCClient) async throws -> LimiterDecision {
        let request = Gatehouse_Limiter_CheckRequest(request)
        return LimiterDecision(try await rpc.call(LimiterMethods.check, request, traceID: traceID, failingWith: LimiterFailure.self))
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
        try await Self.checkBatch(requests, over: self.rpc)
    }

    /// `limiter.CheckBatch` over `rpc`.
    static func checkBatch(_ requests: [LimiterRequest], over rpc: RPCClient) async throws -> [Result<LimiterDecision, LimiterClientError>] {
        let batch = Gatehouse_Limiter_CheckBatchRequest(requests)
        let answer = try await rpc.call(LimiterMethods.checkBatch, batch, traceID: nil, failingWith: LimiterFailure.self)
        return answer.outcomes.map(Self.outcome)
    }

    /// Asks for leases (`limiter.AcquireBatch`): for each request, decided as ``checkBatch(_:)`` decides it, its
    /// items' cost plus extra units, debited at the limiter, for the caller to spend until the lease ends.
    /// - Throws: ``LimiterClientError`` when the call as a whole failed (``LimiterFailure/methodUnknown``
    ///   from a limiter too old to grant leases); `CancellationError`.
    public func acquireBatch(_ requests: [LimiterRequest]) async throws -> LimiterLeaseAnswer {
        try await Self.acquireBatch(requests, over: self.rpc)
    }

    /// `limiter.AcquireBatch` over `rpc`.
    static func acquireBatch(_ requests: [LimiterRequest], over rpc: RPCClient) async throws -> LimiterLeaseAnswer {
        let batch = Gatehouse_Limiter_CheckBatchRequest(requests)
        let answer = try await rpc.call(LimiterMethods.acquireBatch, batch, traceID: nil, failingWith: LimiterFailure.self)
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
