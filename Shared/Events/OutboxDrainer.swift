import GatehouseNIOSupport
import GatehouseRedis
import Logging
import Metrics
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Publishes the events of an ``OutboxSource`` to a Redis pub/sub channel: in version order, up to
/// ``OutboxSource/eventsPerMessage`` events a message, and marks them published only after Redis accepted
/// the message that carries them.
///
/// It works when woken (by ``eventsCommitted()`` or the `wakeUp` it was given) and every `pollInterval`, which
/// finds events committed without a signal (by another process, or left by a crash). Each round reads up to
/// `batchSize` events after the newest one published and publishes them; a full round is followed at once by
/// another. The publish runs on an event loop, where the Redis client has a connection, and marking runs
/// afterwards in a task of its own, off that path, through the newest version published by then. While
/// Redis is unreachable, events wait in the source (committing them keeps succeeding), the drainer retries
/// with backoff from 50 ms to 2 s, logs ``OutboxReporting/failing`` once and ``OutboxReporting/recovered``
/// when it ends, and the events go out in order once Redis is back. An event may be published twice if the
/// process dies between `PUBLISH` and marking, so subscribers treat repeats as such (``EventVersionTracker``).
///
/// Metrics (``OutboxSource/reporting``) are created when the drainer is, so create it after bootstrapping
/// the metrics backend.
public final class OutboxDrainer<Source: OutboxSource>: Service, Sendable {
    private let source: Source
    private let redis: RedisClient
    private let channel: String
    private let batchSize: Int
    private let pollInterval: Duration
    private let logger: Logger
    /// Signalled when events are committed; the drainer waits on it.
    private let wakeUp: WakeUpSignal
    /// The newest version Redis accepted (0 before the first message): what the source may be marked through.
    private let lastPublished = Atomic<Int64>(0)
    private let markWakeUp = WakeUpSignal()
    private let published: Counter
    private let failures: Counter
    private let depth: Gauge
    private let oldestAge: Gauge?

    /// Creates a drainer; nothing happens until ``run()``.
    /// - Parameters:
    ///   - source: Where the events wait.
    ///   - wakeUp: The signal that tells the drainer events were committed.
    ///   - redis: The client to publish with; its `run()` must be going.
    ///   - channel: The pub/sub channel.
    ///   - batchSize: The most events read from the source in one round.
    ///   - pollInterval: How often the source is read without a signal.
    ///   - logger: Receives one line when publishing starts failing and one when it recovers.
    public init(source: Source, wakeUp: WakeUpSignal = WakeUpSignal(), redis: RedisClient, channel: String, batchSize: Int, pollInterval: Duration, logger: Logger) {
        self.source = source
        self.wakeUp = wakeUp
        self.redis = redis
        self.channel = channel
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.logger = logger
        let reporting = Source.reporting
        self.published = Counter(label: reporting.publishedLabel)
        self.failures = Counter(label: reporting.failuresLabel)
        self.depth = Gauge(label: reporting.depthLabel)
        self.oldestAge = reporting.oldestAgeLabel.map { Gauge(label: $0) }
    }

    /// Tells the drainer events were committed; cheap, never waits.
    public func eventsCommitted() {
        self.wakeUp.signal()
    }

    /// Publishes until graceful shutdown; what is committed by then is published before it returns, if
    /// Redis answers, and marked published.
    public func run() async {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2))
        await withDiscardingTaskGroup { group in
            // The poll: wakes the loop even when nothing signals it.
            group.addTask { await self.wakeUp.poll(every: self.pollInterval) }
            group.addTask { await self.markPublished() }
            await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop: MultiThreadedEventLoopGroup.singleton.next())) {
                await cancelWhenGracefulShutdown {
                    var failures = 0
                    // The first round runs at once: events a crash or another process left are not signalled.
                    self.wakeUp.signal()
                    for await _ in self.wakeUp.wakeUps {
                        while !Task.isCancelled {
                            do {
                                let sent = try await self.publishPending()
                                if failures > 0 {
                                    self.logger.notice(Source.reporting.recovered, metadata: ["events.channel": "\(self.channel)"])
                                }
                                failures = 0
                                if sent < self.batchSize { break }
                            } catch {
                                failures += 1
                                self.failures.increment()
                                // The backlog grows while Redis is away: that is what an operator watches.
                                await self.recordBacklog(drained: false)
                                if failures == 1 {
                                    self.logger.warning(Source.reporting.failing, metadata: ["events.channel": "\(self.channel)", "error": "\(error)"])
                                }
                                guard (try? await Task.sleep(for: backoff.delay(afterFailures: failures))) != nil else { break }
                            }
                        }
                    }
                }
            }
            group.cancelAll()
        }
        // Graceful shutdown: one last attempt for what committed meanwhile, and the marking after it.
        while let sent = try? await self.publishPending(), sent == self.batchSize {}
        let published = self.lastPublished.load(ordering: .relaxed)
        if published > 0 {
            try? await self.source.markPublished(through: published)
        }
    }

    /// Publishes one round of pending events, a message per ``OutboxSource/eventsPerMessage`` of them.
    /// - Returns: How many events it published.
    @discardableResult
    func publishPending() async throws -> Int {
        let events = try await self.source.unpublished(after: self.lastPublished.load(ordering: .relaxed), limit: self.batchSize)
        guard !events.isEmpty else {
            await self.recordBacklog(drained: true)
            return 0
        }
        let perMessage = max(1, self.source.eventsPerMessage)
        for start in stride(from: events.startIndex, to: events.endIndex, by: perMessage) {
            let carried = events[start..<min(start + perMessage, events.endIndex)]
            _ = try await self.redis.publish(channel: self.channel, message: self.source.message(for: carried))
            self.lastPublished.store(carried[carried.endIndex - 1].version, ordering: .relaxed)
            self.markWakeUp.signal()
            self.published.increment(by: carried.count)
        }
        await self.recordBacklog(drained: events.count < self.batchSize)
        return events.count
    }

    /// Marks published events in the source, once per wake-up, through the newest version published by then.
    private func markPublished() async {
        var markedThrough: Int64 = 0
        for await _ in self.markWakeUp.wakeUps {
            let published = self.lastPublished.load(ordering: .relaxed)
            guard published > markedThrough else { continue }
            // A failed write is retried at the next wake-up; until then the events only take space (and a
            // restart would publish them again).
            if (try? await self.source.markPublished(through: published)) != nil {
                markedThrough = published
            }
        }
    }

    /// The backlog metrics after a round: zero when it emptied the source (without asking it), else counted.
    private func recordBacklog(drained: Bool) async {
        guard !drained else {
            self.depth.record(0)
            self.oldestAge?.record(0)
            return
        }
        guard let backlog = try? await self.source.backlog(after: self.lastPublished.load(ordering: .relaxed)) else { return }
        self.depth.record(backlog.count)
        if let oldestAge = self.oldestAge, let age = backlog.oldestAge {
            oldestAge.record(Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18)
        }
    }
}
