import Metrics
import Synchronization

/// The edge router's response cache: in memory, bounded by bytes, least recently used first out, with
/// per-route freshness (RFC 9111 TTL plus RFC 5861 `stale-while-revalidate` and `stale-if-error`).
///
/// Entries are tagged with what they depend on (``CacheTag``); an invalidation drops exactly the entries
/// of its tags. The read/invalidate race is closed with fill tickets: a miss takes a ``FillTicket``
/// before it asks the data service, and ``store(_:for:tags:freshness:ticket:now:)`` refuses the answer when
/// one of its tags was invalidated after the ticket was taken, because the answer may predate the change.
/// ``removeAll()`` (a gap in the event versions, a lost subscription) refuses every fill in flight too.
///
/// One `Mutex` guards the state: a lookup is a dictionary probe and a list splice, with no actor hop.
package final class ResponseCache: Sendable {
    /// How long an entry is served, by route.
    package struct Freshness: Sendable, Equatable {
        /// Fresh for this long after it was stored.
        package var ttl: Duration
        /// After that, served stale for this long while one request refreshes it (RFC 5861 §3).
        package var staleWhileRevalidate: Duration
        /// After that (or together with it), served stale for this long when the data service fails (RFC 5861 §4).
        package var staleIfError: Duration

        /// Creates a freshness policy.
        package init(ttl: Duration, staleWhileRevalidate: Duration = .zero, staleIfError: Duration = .zero) {
            self.ttl = ttl
            self.staleWhileRevalidate = staleWhileRevalidate
            self.staleIfError = staleIfError
        }
    }

    /// What a lookup found.
    package enum Lookup: Sendable, Equatable {
        /// A fresh entry, with its age.
        case fresh(CachedResponse, age: Duration)
        /// An entry past its TTL that may still be served: while revalidating (`revalidate`), or when the
        /// data service fails (`ifError`). An entry with validators (``CachedResponse/conditionalFields``)
        /// stays past both windows, with both `false`: it is served only once its upstream confirms it.
        case stale(CachedResponse, age: Duration, revalidate: Bool, ifError: Bool)
        /// Nothing usable.
        case miss
    }

    /// Taken before a fill's read; a store with a ticket older than an invalidation of its tags is refused.
    package struct FillTicket: Sendable, Equatable {
        let sequence: UInt64
    }

    /// What ``store(_:for:tags:freshness:ticket:now:)`` did.
    package enum StoreOutcome: Sendable, Equatable {
        /// Stored.
        case stored
        /// Refused: a tag was invalidated (or everything dropped) after the ticket was taken.
        case invalidatedMeanwhile
        /// Refused: the entry alone would take more than an eighth of the budget.
        case tooLarge
    }

    /// Counts since start, for metrics and tests.
    package struct Statistics: Sendable, Equatable {
        /// Entries held.
        package var entries = 0
        /// Bytes held, as counted against the budget.
        package var bytes = 0
        /// Entries evicted to stay within the budget.
        package var evictions = 0
        /// Entries dropped by invalidations.
        package var invalidated = 0
    }

    private let state: Mutex<State>

    /// Creates an empty cache.
    /// - Parameters:
    ///   - maxBytes: The budget for entries (bodies, headers, keys and bookkeeping).
    ///   - maxTrackedTags: How many recently invalidated tags are remembered for fill tickets; past that the
    ///     memory is cleared and every older ticket is refused (safe, only a few fills are lost).
    package init(maxBytes: Int, maxTrackedTags: Int = 100_000) {
        self.state = Mutex(State(maxBytes: maxBytes, maxTrackedTags: maxTrackedTags))
    }

    /// Looks an entry up and marks it recently used; an entry past every window is dropped, unless it has
    /// validators to be revalidated with.
    package func lookup(_ key: String, now: ContinuousClock.Instant = .now) -> Lookup {
        self.state.withLock { $0.lookup(key, now: now) }
    }

    /// A ticket for a fill about to read from the data service.
    package func ticket() -> FillTicket {
        self.state.withLock { FillTicket(sequence: $0.sequence) }
    }

    /// Stores a response read after `ticket` was taken, evicting the least recently used entries as needed.
    @discardableResult
    package func store(
        _ response: CachedResponse, for key: String, tags: [CacheTag], freshness: Freshness, ticket: FillTicket,
        now: ContinuousClock.Instant = .now
    ) -> StoreOutcome {
        self.state.withLock { $0.store(response, key: key, tags: tags, freshness: freshness, ticket: ticket, now: now) }
    }

    /// Stores `response` in place of `revalidated`, the entry a `304` confirmed (RFC 9111 §4.3.4), unless
    /// that entry is gone or was replaced since (an invalidation, an eviction, another fill), or one of its
    /// tags was invalidated after `ticket` was taken.
    @discardableResult
    package func refresh(
        _ revalidated: CachedResponse, with response: CachedResponse, for key: String, tags: [CacheTag], freshness: Freshness, ticket: FillTicket,
        now: ContinuousClock.Instant = .now
    ) -> StoreOutcome {
        self.state.withLock { state in
            guard let slot = state.index[key], state.nodes[slot]?.response == revalidated else { return .invalidatedMeanwhile }
            return state.store(response, key: key, tags: tags, freshness: freshness, ticket: ticket, now: now)
        }
    }

    /// Drops every entry of these tags; fills that took their ticket earlier will not be stored.
    /// - Returns: How many entries were dropped.
    @discardableResult
    package func invalidate(_ tags: [CacheTag]) -> Int {
        self.state.withLock { $0.invalidate(tags) }
    }

    /// Drops everything, and refuses every fill in flight (after a gap in invalidation events).
    package func removeAll() {
        self.state.withLock { $0.removeAll() }
    }

    /// The current counts.
    package var statistics: Statistics {
        self.state.withLock { $0.statistics }
    }
}

extension ResponseCache {
    /// The cache's data: an index into a doubly linked list of nodes kept in an array (most recently used
    /// at `head`), the keys of each tag, and the invalidation sequence of recently invalidated tags.
    struct State {
        struct Node {
            var key: String
            var response: CachedResponse
            var tags: [CacheTag]
            var storedAt: ContinuousClock.Instant
            var freshness: Freshness
            var cost: Int
            var previous: Int?
            var next: Int?
        }

        let maxBytes: Int
        let maxTrackedTags: Int
        var index: [String: Int] = [:]
        var nodes: [Node?] = []
        var free: [Int] = []
        var head: Int?
        var tail: Int?
        var keysByTag: [CacheTag: Set<String>] = [:]
        var invalidatedAt: [CacheTag: UInt64] = [:]
        var sequence: UInt64 = 0
        var floor: UInt64 = 0
        var statistics = Statistics()

        init(maxBytes: Int, maxTrackedTags: Int) {
            self.maxBytes = maxBytes
            self.maxTrackedTags = maxTrackedTags
        }

        mutating func lookup(_ key: String, now: ContinuousClock.Instant) -> Lookup {
            guard let slot = self.index[key], let node = self.nodes[slot] else { return .miss }
            let age = now - node.storedAt
            let freshness = node.freshness
            if age < freshness.ttl {
                self.moveToFront(slot)
                return .fresh(node.response, age: age)
            }
            let revalidate = age < freshness.ttl + freshness.staleWhileRevalidate
            let ifError = age < freshness.ttl + freshness.staleIfError
            guard revalidate || ifError || !node.response.conditionalFields.isEmpty else {
                self.remove(slot)
                return .miss
            }
            self.moveToFront(slot)
            return .stale(node.response, age: age, revalidate: revalidate, ifError: ifError)
        }

        mutating func store(
            _ response: CachedResponse, key: String, tags: [CacheTag], freshness: Freshness, ticket: FillTicket, now: ContinuousClock.Instant
        ) -> StoreOutcome {
            guard ticket.sequence >= self.floor, !tags.contains(where: { (self.invalidatedAt[$0] ?? 0) > ticket.sequence }) else {
                return .invalidatedMeanwhile
            }
            let cost = response.cost(key: key, tags: tags)
            guard cost <= self.maxBytes / 8 else { return .tooLarge }
            if let existing = self.index[key] { self.remove(existing) }
            while self.statistics.bytes + cost > self.maxBytes, let last = self.tail {
                self.remove(last)
                self.statistics.evictions += 1
                EdgeMetrics.cacheEvictions.increment()
            }
            let node = Node(key: key, response: response, tags: tags, storedAt: now, freshness: freshness, cost: cost, previous: nil, next: self.head)
            let slot: Int
            if let reused = self.free.popLast() {
                slot = reused
                self.nodes[slot] = node
            } else {
                slot = self.nodes.count
                self.nodes.append(node)
            }
            if let head = self.head { self.nodes[head]?.previous = slot }
            self.head = slot
            if self.tail == nil { self.tail = slot }
            self.index[key] = slot
            for tag in tags { self.keysByTag[tag, default: []].insert(key) }
            self.statistics.entries += 1
            self.statistics.bytes += cost
            return .stored
        }

        mutating func invalidate(_ tags: [CacheTag]) -> Int {
            self.sequence += 1
            if self.invalidatedAt.count + tags.count > self.maxTrackedTags {
                // Forget the old invalidations; every ticket taken before now is refused instead.
                self.invalidatedAt.removeAll(keepingCapacity: true)
                self.floor = self.sequence
            }
            var dropped = 0
            for tag in tags {
                self.invalidatedAt[tag] = self.sequence
                for key in self.keysByTag[tag] ?? [] {
                    if let slot = self.index[key] {
                        self.remove(slot)
                        dropped += 1
                    }
                }
            }
            self.statistics.invalidated += dropped
            EdgeMetrics.cacheInvalidated.increment(by: dropped)
            return dropped
        }

        mutating func removeAll() {
            self.sequence += 1
            self.floor = self.sequence
            self.invalidatedAt.removeAll()
            self.statistics.invalidated += self.statistics.entries
            EdgeMetrics.cacheInvalidated.increment(by: self.statistics.entries)
            self.index.removeAll()
            self.nodes.removeAll()
            self.free.removeAll()
            self.keysByTag.removeAll()
            self.head = nil
            self.tail = nil
            self.statistics.entries = 0
            self.statistics.bytes = 0
        }

        private mutating func moveToFront(_ slot: Int) {
            guard self.head != slot else { return }
            self.unlink(slot)
            self.nodes[slot]?.previous = nil
            self.nodes[slot]?.next = self.head
            if let head = self.head { self.nodes[head]?.previous = slot }
            self.head = slot
            if self.tail == nil { self.tail = slot }
        }

        private mutating func unlink(_ slot: Int) {
            guard let node = self.nodes[slot] else { return }
            if let previous = node.previous { self.nodes[previous]?.next = node.next } else { self.head = node.next }
            if let next = node.next { self.nodes[next]?.previous = node.previous } else { self.tail = node.previous }
        }

        private mutating func remove(_ slot: Int) {
            guard let node = self.nodes[slot] else { return }
            self.unlink(slot)
            self.nodes[slot] = nil
            self.free.append(slot)
            self.index[node.key] = nil
            for tag in node.tags {
                self.keysByTag[tag]?.remove(node.key)
                if self.keysByTag[tag]?.isEmpty == true { self.keysByTag[tag] = nil }
            }
            self.statistics.entries -= 1
            self.statistics.bytes -= node.cost
        }
    }
}
