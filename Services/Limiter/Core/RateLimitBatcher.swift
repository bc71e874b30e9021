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
/// A batch mixes callers, so its keys span several hash slots. On a single server that is one script call; on
/// a Redis Cluster (``RedisClient/isCluster``) the batch is split into one script call per slot, sent at once,
/// each to the node that owns its slot. A request's keys share one slot (``RedisRateLimiter`` refuses a request
/// whose keys do not), so a request is never split, and each call's requests are decided as on one server.
/// A call that fails fails only its own requests.
final class RateLimitBatcher: Sendable {
    /// A request's decision, or the error of the script call it was in.
    typealias Outcome = Result<RateLimitDecision, any Error>

    private let batcher: CallBatcher<RateLimitScript.Request, Outcome>
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
            await Self.call(requests, on: client)
        }
    }

    /// Decides one request, in a batch with whatever else is waiting.
    /// - Throws: ``RedisError`` or ``RateLimitReplyError`` when the batch's script call fails.
    func decide(_ request: RateLimitScript.Request) async throws -> RateLimitDecision {
        var request = request
        request.submitted = .now
        return try await self.batcher.submit(request).get()
    }

    /// Decides requests that arrived together (one `limiter.CheckBatch`) in script calls of their own, up to
    /// `maximumBatchSize` requests each, without queueing behind the calls in flight: they are a batch already.
    /// - Returns: One outcome per request, in order: its decision, or the error (``RedisError`` or
    ///   ``RateLimitReplyError``) of the script call it was in.
    func decideAll(_ requests: [RateLimitScript.Request]) async -> [Outcome] {
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(requests.count)
        for start in stride(from: 0, to: requests.count, by: self.maximumBatchSize) {
            let chunk = Array(requests[start..<min(start + self.maximumBatchSize, requests.count)])
            outcomes += await Self.call(chunk, on: self.client)
        }
        return outcomes
    }

    /// The script calls for `requests`: one on a single server; on a cluster one per hash slot, sent at once.
    /// - Returns: One outcome per request, in order.
    private static func call(_ requests: [RateLimitScript.Request], on client: RedisClient) async -> [Outcome] {
        let groups = client.isCluster ? Self.slotGroups(requests) : [Array(requests.indices)]
        guard groups.count > 1 else {
            return Self.outcomes(of: await Self.scriptCall(requests, on: client), count: requests.count)
        }
        var outcomes = [Outcome](repeating: .failure(CancellationError()), count: requests.count)
        await withTaskGroup(of: (indices: [Int], result: Result<[RateLimitDecision], any Error>).self) { group in
            for indices in groups {
                group.addTask { (indices, await Self.scriptCall(indices.map { requests[$0] }, on: client)) }
            }
            for await (indices, result) in group {
                for (index, outcome) in zip(indices, Self.outcomes(of: result, count: indices.count)) {
                    outcomes[index] = outcome
                }
            }
        }
        return outcomes
    }

    /// The positions of `requests` grouped by the hash slot of their keys (a request's keys share one), each
    /// group in arrival order.
    private static func slotGroups(_ requests: [RateLimitScript.Request]) -> [[Int]] {
        var groupOfSlot: [Int: Int] = [:]
        var groups: [[Int]] = []
        for (index, request) in requests.enumerated() {
            let slot = RedisHashSlot.slot(of: request.items[0].key)
            if let group = groupOfSlot[slot] {
                groups[group].append(index)
            } else {
                groupOfSlot[slot] = groups.count
                groups.append([index])
            }
        }
        return groups
    }

    /// One call's result as one outcome per request.
    private static func outcomes(of result: Result<[RateLimitDecision], any Error>, count: Int) -> [Outcome] {
        switch result {
        case .success(let decisions):
            return decisions.map { .success($0) }
        case .failure(let error):
            return Array(repeating: .failure(error), count: count)
        }
    }

    /// One script call for `requests`: their decisions in order, or its error.
    private static func scriptCall(_ requests: [RateLimitScript.Request], on client: RedisClient) async -> Result<[RateLimitDecision], any Error> {
        do {
            return .success(try await Self.oneScriptCall(requests, on: client))
        } catch {
            return .failure(error)
        }
    }

    private static func oneScriptCall(_ requests: [RateLimitScript.Request], on client: RedisClient) async throws -> [RateLimitDecision] {
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
