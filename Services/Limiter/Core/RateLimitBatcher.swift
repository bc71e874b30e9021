import GatehouseNIOSupport
import GatehouseRedis
import Metrics

/// Sends concurrent rate-limit requests to Redis in batches (``CallBatcher``), one script call per batch, so
/// that under load Redis runs one `EVALSHA` for many decisions and the limiter writes and parses one command
/// and one reply: the requests of one event-loop tick (the `Check`s of one read of a connection) share a
/// call, and so do those that queue behind the calls in flight. A request alone in its tick is sent in that
/// tick, alone. Each request is still decided atomically and all or nothing, in arrival order (see
/// ``RateLimitScript``).
///
/// A batch mixes callers, so its keys span several Redis Cluster hash slots: this fits a single Redis server
/// (or a primary with replicas), which is what ``RedisClient`` talks to.
final class RateLimitBatcher: Sendable {
    private let batcher: CallBatcher<RateLimitScript.Request, RateLimitDecision>
    private let client: RedisClient
    private let maximumBatchSize: Int

    private static let batchSizes = Recorder(label: "gatehouse_limiter_redis_batch_size")
    private static let redisDuration = Metrics.Timer(label: RateLimitBatcher.redisDurationLabel)
    private static let queueWait = Metrics.Timer(label: RateLimitBatcher.queueWaitLabel)

    /// The script call's round trip (one batch of decisions).
    static let redisDurationLabel = "gatehouse_limiter_redis_duration_seconds"
    /// A request's wait in the batcher's queue: from its submission to its script call being sent.
    static let queueWaitLabel = "gatehouse_limiter_queue_wait_seconds"

    /// Creates a batcher on a client whose `run()` is going.
    /// - Parameters:
    ///   - client: The Redis client.
    ///   - maximumCallsInFlight: Script calls under way at once per event loop before that loop's requests queue
    ///     (default 4).
    ///   - maximumBatchSize: Requests in one script call (default 64).
    init(client: RedisClient, maximumCallsInFlight: Int = 4, maximumBatchSize: Int = 64) {
        self.client = client
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.batcher = CallBatcher(maximumCallsInFlight: maximumCallsInFlight, maximumBatchSize: maximumBatchSize) { requests in
            try await Self.call(requests, on: client)
        }
    }

    /// Decides one request, in a batch with whatever else is waiting.
    /// - Throws: ``RedisError`` or ``RateLimitReplyError`` when the batch's script call fails.
    func decide(_ request: RateLimitScript.Request) async throws -> RateLimitDecision {
        var request = request
        request.submitted = .now
        return try await self.batcher.submit(request)
    }

    /// Decides requests that arrived together (one `limiter.CheckBatch`) in script calls of their own, up to
    /// `maximumBatchSize` requests each, without queueing behind the calls in flight: they are a batch already.
    /// - Returns: One decision per request, in order.
    /// - Throws: ``RedisError`` or ``RateLimitReplyError`` when a script call fails.
    func decideAll(_ requests: [RateLimitScript.Request]) async throws -> [RateLimitDecision] {
        var decisions: [RateLimitDecision] = []
        decisions.reserveCapacity(requests.count)
        for start in stride(from: 0, to: requests.count, by: self.maximumBatchSize) {
            let chunk = Array(requests[start..<min(start + self.maximumBatchSize, requests.count)])
            decisions += try await Self.call(chunk, on: self.client)
        }
        return decisions
    }

    /// One script call for `requests`; their decisions in order.
    private static func call(_ requests: [RateLimitScript.Request], on client: RedisClient) async throws -> [RateLimitDecision] {
        Self.batchSizes.record(requests.count)
        let start = ContinuousClock.now
        for request in requests {
            if let submitted = request.submitted { Self.queueWait.recordNanoseconds(Self.nanoseconds(start - submitted)) }
        }
        let reply = try await client.evalScript(
            RateLimitScript.script,
            keys: RateLimitScript.keys(for: requests),
            arguments: RateLimitScript.arguments(for: requests)
        )
        Self.redisDuration.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - start))
        return try RateLimitScript.decisions(from: reply, for: requests)
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
