import GatehouseRedis
import Metrics
import Synchronization

/// Sends concurrent rate-limit requests to Redis in batches, one script call per batch, so that under load
/// Redis runs one `EVALSHA` for many decisions and the limiter writes and parses one command and one reply.
///
/// No request ever waits for a batch to fill: while fewer than `maximumCallsInFlight` script calls are under
/// way a request is sent at once (alone, at low load). Requests that arrive while that many calls are in
/// flight queue up, and the next free sender takes up to `maximumBatchSize` of them in one call. Each request
/// is still decided atomically and all or nothing, in arrival order (see ``RateLimitScript``).
///
/// A batch mixes callers, so its keys span several Redis Cluster hash slots: this fits a single Redis server
/// (or a primary with replicas), which is what ``RedisClient`` talks to.
final class RateLimitBatcher: Sendable {
    private struct Pending {
        let request: RateLimitScript.Request
        let continuation: CheckedContinuation<RateLimitDecision, any Error>
    }

    private struct State {
        var queue: [Pending] = []
        var callsInFlight = 0
    }

    private let client: RedisClient
    private let maximumCallsInFlight: Int
    private let maximumBatchSize: Int
    private let state = Mutex(State())

    private static let batchSizes = Recorder(label: "gatehouse_limiter_redis_batch_size")
    private static let redisDuration = Metrics.Timer(label: "gatehouse_limiter_redis_duration_seconds")

    /// Creates a batcher on a client whose `run()` is going.
    /// - Parameters:
    ///   - client: The Redis client.
    ///   - maximumCallsInFlight: Script calls under way at once before requests queue (default 4).
    ///   - maximumBatchSize: Requests in one script call (default 64).
    init(client: RedisClient, maximumCallsInFlight: Int = 4, maximumBatchSize: Int = 64) {
        self.client = client
        self.maximumCallsInFlight = max(1, maximumCallsInFlight)
        self.maximumBatchSize = max(1, maximumBatchSize)
    }

    /// Decides one request, in a batch with whatever else is waiting.
    /// - Throws: ``RedisError`` or ``RateLimitReplyError`` when the batch's script call fails.
    func decide(_ request: RateLimitScript.Request) async throws -> RateLimitDecision {
        let sendsItself = self.state.withLock { state in
            guard state.queue.isEmpty, state.callsInFlight < self.maximumCallsInFlight else { return false }
            state.callsInFlight += 1
            return true
        }
        if sendsItself {
            // Nothing is waiting: this task sends its request alone, with no task or thread hop in between.
            defer { self.releaseOrKeepSending() }
            return try await self.call([request])[0]
        }
        return try await withCheckedThrowingContinuation { continuation in
            let startSender = self.state.withLock { state in
                state.queue.append(Pending(request: request, continuation: continuation))
                guard state.callsInFlight < self.maximumCallsInFlight else { return false }
                state.callsInFlight += 1
                return true
            }
            if startSender {
                Task { await self.sendUntilQueueIsEmpty() }
            }
        }
    }

    /// After a call of its own: gives the sending slot back, or, when requests queued up meanwhile, passes it to
    /// a task that sends them.
    private func releaseOrKeepSending() {
        let keepSending = self.state.withLock { state in
            guard state.queue.isEmpty else { return true }
            state.callsInFlight -= 1
            return false
        }
        if keepSending {
            Task { await self.sendUntilQueueIsEmpty() }
        }
    }

    /// Sends batches while requests are queued, then gives its sending slot back.
    private func sendUntilQueueIsEmpty() async {
        while true {
            let batch: [Pending] = self.state.withLock { state in
                guard !state.queue.isEmpty else {
                    state.callsInFlight -= 1
                    return []
                }
                let count = min(state.queue.count, self.maximumBatchSize)
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            await self.send(batch)
        }
    }

    private func send(_ batch: [Pending]) async {
        do {
            let decisions = try await self.call(batch.map(\.request))
            for (pending, decision) in zip(batch, decisions) {
                pending.continuation.resume(returning: decision)
            }
        } catch {
            // Redis failed or timed out: the requests queued meanwhile would only wait for the same failure,
            // one timeout per batch. They fail now too, and their callers' fallbacks decide at once.
            let queued = self.state.withLock { state in
                defer { state.queue.removeAll() }
                return state.queue
            }
            for pending in batch + queued {
                pending.continuation.resume(throwing: error)
            }
        }
    }

    /// One script call for `requests`; their decisions in order.
    private func call(_ requests: [RateLimitScript.Request]) async throws -> [RateLimitDecision] {
        Self.batchSizes.record(requests.count)
        let start = ContinuousClock.now
        let reply = try await self.client.evalScript(
            RateLimitScript.script,
            keys: RateLimitScript.keys(for: requests),
            arguments: RateLimitScript.arguments(for: requests)
        )
        let elapsed = (ContinuousClock.now - start).components
        Self.redisDuration.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        return try RateLimitScript.decisions(from: reply, for: requests)
    }
}
