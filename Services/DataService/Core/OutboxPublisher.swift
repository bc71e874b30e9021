import GatehouseDataAPI
import GatehouseNIOSupport
import GatehouseRedis
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Delivers committed changes to Redis pub/sub: drains the outbox in version order, one message per batch
/// of up to `batchSize` events, and deletes events only after Redis accepted the message that carries them.
///
/// Writes signal it (``outboxChanged()``), so an event normally leaves within one Redis round trip of its
/// commit; a poll every `pollInterval` also picks up events written by another process (`data-service seed`)
/// or left by a crash. While Redis is unreachable, events wait in the outbox (the writes themselves keep
/// succeeding) and go out in order once it is back; a message may then be published twice if the process
/// dies between `PUBLISH` and the delete, so subscribers treat events idempotently (they only drop cache
/// entries). Exported metrics: `gatehouse_data_outbox_depth`, `gatehouse_data_outbox_oldest_age_seconds`,
/// `gatehouse_data_events_published_total`, `gatehouse_data_event_publish_failures_total`.
public final class OutboxPublisher: Service, Sendable {
    private let store: DocumentStore
    private let redis: RedisClient
    private let channel: String
    private let batchSize: Int
    private let pollInterval: Duration
    private let logger: Logger
    private let wakeUp = WakeUpSignal()

    private static let depth = Gauge(label: "gatehouse_data_outbox_depth")
    private static let oldestAge = Gauge(label: "gatehouse_data_outbox_oldest_age_seconds")
    private static let published = Counter(label: "gatehouse_data_events_published_total")
    private static let failures = Counter(label: "gatehouse_data_event_publish_failures_total")

    /// Creates a publisher.
    /// - Parameters:
    ///   - store: The document store whose outbox is drained.
    ///   - redis: The Redis client to publish with; its `run()` must be going.
    ///   - channel: The pub/sub channel.
    ///   - batchSize: The most events in one message.
    ///   - pollInterval: How often the outbox is checked without a signal.
    ///   - logger: Receives one line when publishing starts failing and one when it recovers.
    public init(store: DocumentStore, redis: RedisClient, channel: String, batchSize: Int, pollInterval: Duration, logger: Logger) {
        self.store = store
        self.redis = redis
        self.channel = channel
        self.batchSize = max(1, batchSize)
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Tells the publisher that a write committed; cheap, and never waits.
    public func outboxChanged() {
        self.wakeUp.signal()
    }

    /// Publishes until graceful shutdown; what is committed by then is published before it returns, if Redis answers.
    public func run() async {
        let backoff = ReconnectBackoff(initial: .milliseconds(50), maximum: .seconds(2))
        await withDiscardingTaskGroup { group in
            // The poll: wakes the loop even when nothing signals it.
            group.addTask { await self.wakeUp.poll(every: self.pollInterval) }
            await cancelWhenGracefulShutdown {
                var failures = 0
                for await _ in self.wakeUp.wakeUps {
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
            group.cancelAll()
        }
        // Graceful shutdown: one last attempt for what committed meanwhile.
        while let sent = try? await self.publishPending(), sent == self.batchSize {}
    }

    /// Publishes one batch of pending events and deletes them; returns how many it published.
    @discardableResult
    func publishPending() async throws -> Int {
        let events = try await self.store.pendingEvents(after: 0, limit: self.batchSize)
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
        _ = try await self.store.deleteEvents(through: last.version)
        Self.published.increment(by: events.count)
        await self.recordOutboxMetrics(drained: events.count < self.batchSize)
        return events.count
    }

    /// Outbox depth and age after a publish: zero when the batch emptied it (without a query), else counted.
    private func recordOutboxMetrics(drained: Bool) async {
        guard !drained else {
            Self.depth.record(0)
            Self.oldestAge.record(0)
            return
        }
        if let depth = try? await self.store.outboxDepth() {
            Self.depth.record(depth)
        }
        if let age = try? await self.store.oldestPendingEventAge() {
            Self.oldestAge.record(Double(age.components.seconds) + Double(age.components.attoseconds) / 1e18)
        }
    }
}
