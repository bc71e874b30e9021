import GatehouseDataAPI
import GatehouseNIOSupport
import Synchronization

/// The events the writer has just committed, handed to the publisher (``DocumentOutbox``) in memory so that it can
/// publish them without reading them back from the outbox.
///
/// The writer appends each transaction's events right after COMMIT returns (``append(_:)``, wired as
/// ``DocumentStoreConfiguration/onCommit``), which also wakes the publisher. The outbox in SQLite stays the
/// record of what is still to be published: the publisher reads it instead whenever this buffer cannot
/// continue exactly where it left off (after a start, a Redis outage that overflowed the buffer, or a
/// write by another process). The buffer is bounded: past `capacity` events the oldest are dropped.
package final class CommittedEventBuffer: Sendable {
    private let events = Mutex<[InvalidationMessage.Event]>([])
    private let capacity: Int
    /// Signalled by every append; the publisher waits on it.
    let wakeUp = WakeUpSignal()

    /// Creates an empty buffer.
    /// - Parameter capacity: The most events kept; older ones are dropped (and then read from the outbox).
    package init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Adds a transaction's events, in version order, and wakes the publisher; called on the writer thread.
    package func append(_ committed: [InvalidationMessage.Event]) {
        guard !committed.isEmpty else { return }
        self.events.withLock { events in
            events.append(contentsOf: committed)
            if events.count > self.capacity {
                events.removeFirst(events.count - self.capacity)
            }
        }
        self.wakeUp.signal()
    }

    /// The buffered events `version + 1`, `version + 2`, … up to the first gap, at most `limit` of them, or
    /// nil when the buffer does not hold `version + 1` (the outbox must be read then). A gap between
    /// buffered events is a version another process committed: the run stops before it, so the next call
    /// reads the outbox. Events up to `version` are forgotten.
    func take(after version: Int64, limit: Int) -> [InvalidationMessage.Event]? {
        self.events.withLock { events in
            if let stale = events.firstIndex(where: { $0.version > version }) {
                events.removeFirst(stale)
            } else {
                events.removeAll()
            }
            var run = 0
            while run < min(limit, events.count), events[run].version == version + 1 + Int64(run) {
                run += 1
            }
            return run == 0 ? nil : Array(events.prefix(run))
        }
    }
}
