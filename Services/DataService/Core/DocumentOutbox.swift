import GatehouseDataAPI
import GatehouseEvents
import GatehouseRedis
import Logging

/// The data service's committed changes waiting to be published on the invalidation channel: the writer's
/// in-memory hand-over (``CommittedEventBuffer``) first, the outbox table in SQLite whenever the buffer
/// cannot continue where the last message ended (at start, after a Redis outage long enough to overflow
/// the buffer, and for events written by another process such as `data-service seed`).
///
/// Drained by an ``OutboxDrainer`` (``OutboxDrainer/init(store:committed:redis:channel:batchSize:pollInterval:logger:)``):
/// one message per batch of up to `batchSize` events; the outbox rows are deleted once Redis accepted them,
/// off the publishing path. Metrics: `gatehouse_data_outbox_depth`, `gatehouse_data_outbox_oldest_age_seconds`
/// (both count only events not yet published), `gatehouse_data_events_published_total`,
/// `gatehouse_data_event_publish_failures_total`.
package struct DocumentOutbox: OutboxSource {
    /// The data service's metric names and log lines (docs/operations.md).
    package static let reporting = OutboxReporting(
        publishedLabel: "gatehouse_data_events_published_total",
        failuresLabel: "gatehouse_data_event_publish_failures_total",
        depthLabel: "gatehouse_data_outbox_depth",
        oldestAgeLabel: "gatehouse_data_outbox_oldest_age_seconds",
        failing: "cannot publish invalidation events; they wait in the outbox",
        recovered: "publishing invalidation events again"
    )

    private let store: DocumentStore
    private let committed: CommittedEventBuffer
    /// The most events in one message (`events.batch_size`).
    package let eventsPerMessage: Int

    /// Creates the source.
    /// - Parameters:
    ///   - store: The document store whose outbox is drained.
    ///   - committed: The buffer the store's writer appends committed events to (its `onCommit`).
    ///   - eventsPerMessage: The most events in one message.
    package init(store: DocumentStore, committed: CommittedEventBuffer, eventsPerMessage: Int) {
        self.store = store
        self.committed = committed
        self.eventsPerMessage = max(1, eventsPerMessage)
    }

    /// The buffered events when they continue the last message, else those of the outbox.
    /// - Parameters:
    ///   - version: The newest version published.
    ///   - limit: The most events to return.
    /// - Returns: Up to `limit` events after `version`, oldest first.
    /// - Throws: ``DocumentError`` when the outbox cannot be read.
    package func unpublished(after version: Int64, limit: Int) async throws -> [InvalidationMessage.Event] {
        if let fresh = self.committed.take(after: version, limit: limit) { return fresh }
        return try await self.store.pendingEvents(after: version, limit: limit)
    }

    /// One invalidation message (docs/protocol.md, "Invalidation events").
    /// - Parameter events: The events it carries.
    /// - Returns: Its JSON text.
    package func message(for events: ArraySlice<InvalidationMessage.Event>) -> String {
        InvalidationMessage(events: Array(events)).jsonText()
    }

    /// Deletes the published events from the outbox.
    /// - Parameter version: The newest version Redis accepted.
    /// - Throws: ``DocumentError`` when the outbox cannot be written.
    package func markPublished(through version: Int64) async throws {
        _ = try await self.store.deleteEvents(through: version)
    }

    /// The outbox rows after `version` and the age of the oldest.
    /// - Parameter version: The newest version published.
    /// - Throws: ``DocumentError`` when the outbox cannot be read.
    package func backlog(after version: Int64) async throws -> OutboxBacklog {
        OutboxBacklog(count: try await self.store.outboxDepth(after: version), oldestAge: try await self.store.oldestPendingEventAge(after: version))
    }
}

extension OutboxDrainer where Source == DocumentOutbox {
    /// Creates the data service's publisher of invalidation events, woken by every commit the buffer is handed.
    /// - Parameters:
    ///   - store: The document store whose outbox is drained.
    ///   - committed: The buffer the store's writer appends committed events to (its `onCommit`).
    ///   - redis: The Redis client to publish with; its `run()` must be going.
    ///   - channel: The pub/sub channel.
    ///   - batchSize: The most events in one message.
    ///   - pollInterval: How often the outbox is checked without a signal.
    ///   - logger: Receives one line when publishing starts failing and one when it recovers.
    package convenience init(
        store: DocumentStore, committed: CommittedEventBuffer, redis: RedisClient, channel: String, batchSize: Int, pollInterval: Duration,
        logger: Logger
    ) {
        self.init(
            source: DocumentOutbox(store: store, committed: committed, eventsPerMessage: batchSize), wakeUp: committed.wakeUp, redis: redis,
            channel: channel, batchSize: batchSize, pollInterval: pollInterval, logger: logger
        )
    }
}
