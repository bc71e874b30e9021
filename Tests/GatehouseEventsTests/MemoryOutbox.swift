import GatehouseEvents
import Logging
import Synchronization

/// One event of the in-memory outbox the drainer tests use.
struct NumberedEvent: Codable, VersionedEvent, Equatable {
    let version: Int64
}

/// The message the in-memory outbox publishes: its events, as a list.
struct NumberedMessage: EventMessage {
    let events: [NumberedEvent]
}

/// An outbox source held in memory (the drainer's source is Gatehouse's own protocol; the data service's and
/// the issuer's are tested in their own targets): events appended in version order, marked through a version.
final class MemoryOutbox: OutboxSource, Sendable {
    static let reporting = OutboxReporting(
        publishedLabel: "test_events_published_total", failuresLabel: "test_event_publish_failures_total", depthLabel: "test_outbox_depth",
        oldestAgeLabel: nil, failing: "cannot publish test events", recovered: "publishing test events again"
    )

    private struct State {
        var events: [NumberedEvent] = []
        var markedThrough: Int64 = 0
    }

    private let state = Mutex(State())
    let eventsPerMessage: Int

    init(eventsPerMessage: Int) {
        self.eventsPerMessage = eventsPerMessage
    }

    /// Commits the events `versions` (the next ones, in order).
    func append(_ versions: ClosedRange<Int64>) {
        self.state.withLock { $0.events += versions.map(NumberedEvent.init(version:)) }
    }

    /// The newest version marked published.
    var markedThrough: Int64 { self.state.withLock { $0.markedThrough } }

    func unpublished(after version: Int64, limit: Int) async throws -> [NumberedEvent] {
        self.state.withLock { state in
            Array(state.events.filter { $0.version > max(version, state.markedThrough) }.prefix(limit))
        }
    }

    func message(for events: ArraySlice<NumberedEvent>) -> String {
        NumberedMessage(events: Array(events)).jsonText()
    }

    func markPublished(through version: Int64) async throws {
        self.state.withLock { $0.markedThrough = max($0.markedThrough, version) }
    }

    func backlog(after version: Int64) async throws -> OutboxBacklog {
        OutboxBacklog(count: self.state.withLock { state in state.events.count { $0.version > max(version, state.markedThrough) } })
    }
}
