import GatehouseNIOSupport
import GatehouseRedis

/// The control for the limiter's tail: an echo that first waits, as a limiter check does, for a script call
/// in Redis, batched the limiter's way (``CallBatcher``: the requests of one event-loop tick in one call, 4
/// calls in flight per loop, at most 64 requests each), whose script decides nothing and answers one
/// integer per request. Next to the plain echo at the same rate, it shows what the Redis round trip itself
/// costs on these cores: a floor for any design that decides each check in Redis.
final class RedisRoundTripEcho: Sendable {
    private static let script = RedisScript(source: "local reply = {} for i = 1, #ARGV do reply[i] = 1 end return reply")
    private let batcher: CallBatcher<Int, Int>

    /// An echo over `redis`, whose `run()` must be going.
    init(redis: RedisClient) {
        self.batcher = CallBatcher(maximumCallsInFlight: 4, maximumBatchSize: 64) { requests in
            // An answer of another length fails the batch (CallBatcherError).
            try await redis.evalScript(Self.script, keys: [], arguments: requests.map(String.init)).array?.map { _ in 1 } ?? []
        }
    }

    /// Waits for this request's script call.
    func roundTrip() async throws {
        _ = try await self.batcher.submit(1)
    }
}
