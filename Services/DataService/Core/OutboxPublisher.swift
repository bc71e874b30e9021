import GatehouseDataAPI
import GatehouseNIOSupport
import GatehouseRedis
import Logging
import Metrics
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Delivers committed changes to Redis pub/sub: publishes events in version order, one message per batch of
/// up to `batchSize` events, and deletes them from the outbox only after Redis accepted the message that
/// carries them.
///
/// The writer hands each transaction's events over in memory right after COMMIT (``CommittedEventBuffer``),
/// which wakes the publisher, so an event normally leaves within one Redis round trip of its commit without
/// being read back from SQLite; the publish runs on an event loop, where the Redis client has a connection,
/// and the outbox rows are deleted afterwards, off that path. The outbox is read instead when the buffer
/// cannot continue where the last message ended: at start (events a crash left), after a Redis outage long
/// enough to overflow the buffer, and for events written by another process (`data-service seed`), which a
/// poll every `pollInterval` also picks up. While Redis is unreachable, events wait in the outbox (the writes
/// themselves keep succeeding) and go out in order once it is back; a message may then be published twice
/// if the process dies between `PUBLISH` and the delete, so subscribers treat events idempotently (they only
/// drop cache entries). Exported metrics: `gatehouse_data_outbox_depth`,
/// `gatehouse_data_outbox_oldest_age_seconds` (both count only events not yet published),
/// `gatehouse_data_events_published_total`, `gatehouse_data_event_publish_failures_total`.
public final class OutboxPublisher: Service, Sendable {
    private let store: DocumentStore
    private let committed: CommittedEventBuffer
    private let redis: RedisClient
    private let channel: String
    private let batchSize: Int
    private let pollInterval: Duration
    private let logger: Logger
    /// The newest version Redis accepted (0 before the first message): what the outbox may be pruned through.
    private let lastPublished = Atomic<Int64>(0)
    private let pruneWakeUp = WakeUpSignal()

    private static let depth = Gauge(label: "gatehouse_data_outbox_depth")
    private static let oldestAge = Gauge(label: "gatehouse_data_outbox_oldest_age_seconds")
    private static let published = Counter(label: "gatehouse_data_events_published_total")
    private static let failures = Counter(label: "gatehouse_data_event_publish_failures_total")

    /// Creates a publisher.
    /// - Parameters:
    ///   - store: The document store whose outbox is drained.
    ///   - committed: The buffer the store's writer appends committed events to (its `onCommit`).
    ///   - redis: The Redis client to publish with; its `run()` must be going.
    ///   - channel: The pub/sub channel.
    ///   - batchSize: The most events in one message.
    ///   - pollInterval: How often the outbox is checked without a signal.
    ///   - logger: Receives one line when publishing starts failing and one when it recovers.
    public init(
        store: DocumentStore, committed: CommittedEventBuffer, redis: RedisClient, channel: String, batchSize: Int,
        pollInterval: Duration, logger: Logger
    ) {
        self.store = store
        self.committed = committed
        self.redis = redis
        self.channel = channel
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Publishes until graceful shutdown; what is committed by then is published before it returns, if Redis answers.
    public func run() async {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2))
        await withDiscardingTaskGroup { group in
            // The poll: wakes the loop even when nothing signals it.
            group.addTask { await self.committed.wakeUp.poll(every: self.pollInterval) }
            group.addTask { await self.pruneOutbox() }
            await withTaskExecutorPreference(EventLoopTaskExecutor(eventLoop: MultiThreadedEventLoopGroup.singleton.next())) {
                await cancelWhenGracefulShutdown {
                    var failures = 0
                    for await _ in self.committed.wakeUp.wakeUps {
                        while !Task.isCancelled {
                            do {
                                let sent = try await self.publishPending()
                                if failures > 0 {
                                    self.logger.notice("publishing invalidation events again", metadata: ["events.channel": "\(self.channel)"])
                                }
                                failures = 0
                                if sent < self.batchSize { break }
                            } catch {
                                failures += 1
                                Self.failures.increment()
                                // The outbox grows while Redis is away: that is what an operator watches.
                                await self.recordOutboxMetrics(drained: false)
                                if failures == 1 {
                                    self.logger.warning(
                                        "cannot publish invalidation events; they wait in the outbox",
                                        metadata: ["events.channel": "\(self.channel)", "error": "\(error)"]
                                    )
                                }
                                guard (try? await Task.sleep(for: backoff.delay(afterFailures: failures))) != nil else { break }
                            }
                        }
                    }
                }
            }
            group.cancelAll()
        }
        // Graceful shutdown: one last attempt for what committed meanwhile, and the outbox pruned after it.
        while let sent = try? await self.publishPending(), sent == self.batchSize {}
        let published = self.lastPublished.load(ordering: .relaxed)
        if published > 0 {
            _ = try? await self.store.deleteEvents(through: published)
        }
    }

    /// Publishes one batch of pending events, from memory when the buffer continues the last message, else
    /// from the outbox; returns how many it published.
    @discardableResult
    func publishPending() async throws -> Int {
        let after = self.lastPublished.load(ordering: .relaxed)
        let events: [OutboxEvent]
        if let fresh = self.committed.take(after: after, limit: self.batchSize) {
            events = fresh
        } else {
            events = try await self.store.pendingEvents(after: after, limit: self.batchSize)
        }
        guard let last = events.last else {
            Self.depth.record(0)
            Self.oldestAge.record(0)
            return 0
        }
        let message = InvalidationMessage(events: events.map {
            InvalidationMessage.Event(
                version: $0.version,
                collection: $0.collection,
                id: $0.id,
                kind: $0.kind == .put ? .put : .delete,
                committedAtMs: $0.committedAt
            )
        })
        _ = try await self.redis.publish(channel: self.channel, message: message.jsonText())
        self.lastPublished.store(last.version, ordering: .relaxed)
        self.pruneWakeUp.signal()
        Self.published.increment(by: events.count)
        await self.recordOutboxMetrics(drained: events.count < self.batchSize)
        return events.count
    }

    /// Deletes published events from the outbox, once per wake-up, through the newest version published by then.
    private func pruneOutbox() async {
        var deletedThrough: Int64 = 0
        for await _ in self.pruneWakeUp.wakeUps {
            let published = self.lastPublished.load(ordering: .relaxed)
            guard published > deletedThrough else { continue }
            // A failed delete is retried at the next wake-up; until then the rows only take space.
            if (try? await self.store.deleteEvents(through: published)) != nil {
                deletedThrough = published
            }
        }
    }

    /// Outbox depth and age after a publish: zero when the batch emptied it (without a query), else counted.
    private func recordOutboxMetrics(drained: Bool) async {
        guard !drained else {
            Self.depth.record(0)
            Self.oldestAge.record(0)
            return
        }
        let published = self.lastPublished.load(ordering: .relaxed)
        if let depth = try? await self.store.outboxDepth(after: published) {
            Self.depth.record(depth)
        }
        if let age = try? await self.store.oldestPendingEventAge(after: published) {
            Self.oldestAge.record(Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18)
        }
    }
}
