import GatehouseRedis
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Tells the other edges which paths a write through this edge dropped: the paths wait in a bounded queue
/// and go out as ``PathInvalidationMessage``s on Redis, never on the request's path (``publish(_:)`` only
/// queues). A `PUBLISH` that fails (Redis unreachable) is retried, 100 ms after the failure and then
/// doubling up to every 2 s, with the paths queued meanwhile in the same message (up to
/// ``PathInvalidationMessage/maximumPaths``). Past ``maximumQueuedPaths`` the oldest paths are dropped
/// unpublished (counted): an edge whose subscription was lost with Redis drops its whole cache when it
/// is back anyway, and an edge that stayed subscribed keeps those entries until their TTL.
final class PathInvalidationPublisher: Service, Sendable {
    /// The most paths waiting to be published.
    static let maximumQueuedPaths = 10_000
    private static let firstRetryDelay = Duration.milliseconds(100)
    private static let longestRetryDelay = Duration.seconds(2)

    /// Who publishes (the message's `origin`): this edge process, whose subscriber skips its own messages.
    let origin: String
    private let redis: RedisClient
    private let channel: String
    private let queued = Mutex<[String]>([])
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let logger: Logger

    /// Creates a publisher; nothing is published until ``run()``.
    /// - Parameters:
    ///   - redis: The client it publishes with (run by the service group).
    ///   - channel: `events.path_invalidations_channel`.
    ///   - origin: This edge's identity in its messages.
    ///   - logger: Receives Redis failures and recoveries.
    init(redis: RedisClient, channel: String, origin: String, logger: Logger) {
        self.redis = redis
        self.channel = channel
        self.origin = origin
        self.logger = logger
        (self.wakeUps, self.wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues paths for the other edges; returns at once.
    /// - Parameter paths: Normalized paths.
    func publish(_ paths: [String]) {
        guard !paths.isEmpty else { return }
        let overflow = self.queued.withLock { queued in
            queued += paths
            let overflow = max(0, queued.count - Self.maximumQueuedPaths)
            queued.removeFirst(overflow)
            return overflow
        }
        if overflow > 0 { EdgeMetrics.pathInvalidationsOverflowed.increment(by: Int64(overflow)) }
        self.wake.yield()
    }

    /// Publishes what is queued until graceful shutdown, then makes one attempt for what is left.
    func run() async {
        var failing = false
        var delay = Self.firstRetryDelay
        for await _ in self.wakeUps.cancelOnGracefulShutdown() {
            while let paths = self.next() {
                if await self.send(paths) {
                    if failing { self.logger.notice("path invalidations are published again") }
                    (failing, delay) = (false, Self.firstRetryDelay)
                    continue
                }
                if !failing { self.logger.warning("cannot publish path invalidations; retrying", metadata: ["events.channel": "\(self.channel)"]) }
                failing = true
                self.putBack(paths)
                let wait = delay
                guard (try? await cancelWhenGracefulShutdown({ try await Task.sleep(for: wait) })) != nil else { break }
                delay = min(delay * 2, Self.longestRetryDelay)
            }
        }
        while let paths = self.next() {
            guard await self.send(paths) else {
                self.putBack(paths)
                break
            }
        }
        let left = self.queued.withLock { $0.count }
        if left > 0 { self.logger.warning("path invalidations left unpublished at shutdown", metadata: ["paths": "\(left)"]) }
    }

    /// Takes the next message's paths off the queue, each once.
    private func next() -> [String]? {
        self.queued.withLock { queued in
            guard !queued.isEmpty else { return nil }
            var seen = Set<String>()
            var paths: [String] = []
            var taken = 0
            for path in queued {
                if !seen.contains(path) {
                    guard paths.count < PathInvalidationMessage.maximumPaths else { break }
                    seen.insert(path)
                    paths.append(path)
                }
                taken += 1
            }
            queued.removeFirst(taken)
            return paths
        }
    }

    /// Returns paths whose message failed to the front of the queue, within its bound.
    private func putBack(_ paths: [String]) {
        let overflow = self.queued.withLock { queued in
            queued.insert(contentsOf: paths, at: 0)
            let overflow = max(0, queued.count - Self.maximumQueuedPaths)
            queued.removeFirst(overflow)
            return overflow
        }
        if overflow > 0 { EdgeMetrics.pathInvalidationsOverflowed.increment(by: Int64(overflow)) }
    }

    private func send(_ paths: [String]) async -> Bool {
        do {
            _ = try await self.redis.publish(channel: self.channel, message: PathInvalidationMessage(paths: paths, origin: self.origin).jsonText)
            EdgeMetrics.pathInvalidationMessages(.published).increment()
            return true
        } catch {
            EdgeMetrics.pathInvalidationMessages(.failed).increment()
            self.logger.debug("PUBLISH failed", metadata: ["error": "\(error)"])
            return false
        }
    }
}
