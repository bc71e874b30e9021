import Foundation
import GatehouseDataAPI
import GatehouseEvents
import Metrics
import Synchronization

/// Applies the data service's invalidation events to the response cache: each change drops its document's
/// entries and its collection's listings. Versions increase by one per change, so a jump means events were
/// missed: then, as after a lost subscription, everything cached is dropped (and fills in flight refused).
package final class InvalidationApplier: Sendable {
    /// What one message did.
    package enum Outcome: Sendable, Equatable {
        /// Applied in order; this many entries were dropped.
        case applied(dropped: Int)
        /// Versions were skipped (or the message was unreadable): the whole cache was dropped.
        case droppedEverything
        /// Only versions already applied (a publisher repeat): nothing to do.
        case duplicate
    }

    private let cache: ResponseCache
    /// Without a version after a drop of everything: nothing cached predates the next message.
    private let versions = Mutex(EventVersionTracker())

    /// Creates an applier for a cache.
    package init(cache: ResponseCache) {
        self.cache = cache
    }

    /// The newest version applied, `nil` before the first message (or after a restart of the subscription).
    package var version: Int64? {
        self.versions.withLock { $0.version }
    }

    /// Applies one message of the invalidation channel.
    package func apply(message text: String) -> Outcome {
        guard let message = try? InvalidationMessage(jsonText: text), let first = message.events.first, let last = message.events.last else {
            self.dropEverything()
            return .droppedEverything
        }
        let (fresh, outcome) = self.versions.withLock { versions in
            let fresh = message.events.filter { versions.isNew($0.version) }
            // Within a message versions are consecutive; the first new one must follow the last seen.
            return (fresh, versions.record(first: fresh.first?.version ?? first.version, last: last.version))
        }
        if outcome == .duplicate { return .duplicate }
        var tags: [CacheTag] = []
        for event in fresh {
            tags.append(.document(collection: event.collection, id: event.id))
            tags.append(.collection(event.collection))
        }
        let dropped = self.cache.invalidate(tags)
        // From the data service's commit to this edge dropping the entries (wall clocks: one machine, or
        // synchronized ones; the commit time is in whole milliseconds, so this errs up to 1 ms long).
        let nowMs = Date().timeIntervalSince1970 * 1000
        for event in fresh {
            EdgeMetrics.invalidationLag.recordNanoseconds(Int64(max(0, nowMs - Double(event.committedAtMs)) * 1_000_000))
        }
        if case .gap = outcome {
            self.cache.removeAll()
            return .droppedEverything
        }
        return .applied(dropped: dropped)
    }

    /// The subscription was lost and re-established: events may be missing, so everything goes.
    package func subscriptionRestarted() {
        self.dropEverything()
    }

    private func dropEverything() {
        self.cache.removeAll()
        self.versions.withLock { $0.forget() }
    }
}
