import EdgeRouterCore
import Testing

/// The response cache: freshness windows, byte budget, exact tag invalidation and the read/invalidate race.
struct ResponseCacheTests {
    private let start = ContinuousClock.now
    private func response(_ text: String, bytes: Int = 0) -> CachedResponse {
        CachedResponse(status: 200, body: Array(text.utf8) + [UInt8](repeating: 32, count: bytes), etag: "\"1\"")
    }

    @Test func freshThenStaleWhileRevalidatingThenStaleOnlyOnErrorThenGone() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(10), staleWhileRevalidate: .seconds(5), staleIfError: .seconds(60))
        let body = self.response("{}")
        #expect(cache.store(body, for: "GET /v1/a/1", tags: [.document(collection: "a", id: "1")], freshness: freshness, ticket: cache.ticket(), now: self.start) == .stored)
        #expect(cache.lookup("GET /v1/a/1", now: self.start + .seconds(9)) == .fresh(body, age: .seconds(9)))
        #expect(cache.lookup("GET /v1/a/1", now: self.start + .seconds(12)) == .stale(body, age: .seconds(12), revalidate: true, ifError: true))
        #expect(cache.lookup("GET /v1/a/1", now: self.start + .seconds(30)) == .stale(body, age: .seconds(30), revalidate: false, ifError: true))
        #expect(cache.lookup("GET /v1/a/1", now: self.start + .seconds(71)) == .miss)
        #expect(cache.statistics.entries == 0, "an entry past every window is dropped")
    }

    @Test func aRevalidatedEntryIsRefreshedOnlyWhileItIsStillTheOneThatWasRevalidated() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(10))
        let tags: [CacheTag] = [.path("/a")]
        let old = self.response("old")
        let confirmed = CachedResponse(status: 200, body: Array("old".utf8), etag: "\"2\"")
        cache.store(old, for: "a", tags: tags, freshness: freshness, ticket: cache.ticket(), now: self.start)
        #expect(cache.refresh(old, with: confirmed, for: "a", tags: tags, freshness: freshness, ticket: cache.ticket(), now: self.start + .seconds(20)) == .stored)
        #expect(cache.lookup("a", now: self.start + .seconds(25)) == .fresh(confirmed, age: .seconds(5)), "fresh again from the refresh")
        // An invalidation while the revalidation is in flight wins: before the ticket, or after it.
        var ticket = cache.ticket()
        cache.invalidate(tags)
        #expect(cache.refresh(confirmed, with: confirmed, for: "a", tags: tags, freshness: freshness, ticket: ticket) == .invalidatedMeanwhile)
        #expect(cache.lookup("a") == .miss)
        cache.store(confirmed, for: "a", tags: tags, freshness: freshness, ticket: cache.ticket(), now: self.start)
        ticket = cache.ticket()
        cache.invalidate(tags)
        cache.store(old, for: "a", tags: tags, freshness: freshness, ticket: cache.ticket(), now: self.start)
        #expect(cache.refresh(confirmed, with: confirmed, for: "a", tags: tags, freshness: freshness, ticket: ticket) == .invalidatedMeanwhile, "another fill replaced it")
        #expect(cache.lookup("a", now: self.start) == .fresh(old, age: .zero))
    }

    @Test func staysWithinItsByteBudgetByEvictingTheLeastRecentlyUsed() {
        let cache = ResponseCache(maxBytes: 16_000)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        for index in 0..<10 {
            cache.store(self.response("\(index)", bytes: 1_500), for: "k\(index)", tags: [], freshness: freshness, ticket: cache.ticket(), now: self.start)
            if index == 4 { _ = cache.lookup("k0", now: self.start) }
        }
        let statistics = cache.statistics
        #expect(statistics.bytes <= 16_000)
        #expect(statistics.evictions > 0)
        #expect(cache.lookup("k9", now: self.start) != .miss, "the newest stays")
        #expect(cache.lookup("k0", now: self.start) != .miss, "recently used stays")
        #expect(cache.lookup("k1", now: self.start) == .miss, "the least recently used went first")
        #expect(cache.store(self.response("big", bytes: 3_000), for: "big", tags: [], freshness: freshness, ticket: cache.ticket()) == .tooLarge)
    }

    @Test func anInvalidationDropsExactlyTheEntriesOfItsTags() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        let ticket = cache.ticket()
        cache.store(self.response("1"), for: "doc1", tags: [.document(collection: "posts", id: "1")], freshness: freshness, ticket: ticket, now: self.start)
        cache.store(self.response("2"), for: "doc2", tags: [.document(collection: "posts", id: "2")], freshness: freshness, ticket: ticket, now: self.start)
        cache.store(self.response("l"), for: "list", tags: [.collection("posts")], freshness: freshness, ticket: ticket, now: self.start)
        cache.store(self.response("o"), for: "other", tags: [.collection("notes")], freshness: freshness, ticket: ticket, now: self.start)
        #expect(cache.invalidate([.document(collection: "posts", id: "1"), .collection("posts")]) == 2)
        #expect(cache.lookup("doc1", now: self.start) == .miss)
        #expect(cache.lookup("list", now: self.start) == .miss)
        #expect(cache.lookup("doc2", now: self.start) != .miss)
        #expect(cache.lookup("other", now: self.start) != .miss)
    }

    @Test func aFillReadBeforeAnInvalidationOfItsTagIsNotStored() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        let tag = CacheTag.document(collection: "posts", id: "1")
        let before = cache.ticket()
        cache.invalidate([tag])
        #expect(cache.store(self.response("old"), for: "doc1", tags: [tag], freshness: freshness, ticket: before) == .invalidatedMeanwhile)
        #expect(cache.store(self.response("x"), for: "doc2", tags: [.document(collection: "posts", id: "2")], freshness: freshness, ticket: before) == .stored, "other tags are unaffected")
        let after = cache.ticket()
        #expect(cache.store(self.response("new"), for: "doc1", tags: [tag], freshness: freshness, ticket: after) == .stored)
    }

    @Test func removeAllRefusesEveryFillInFlight() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        let before = cache.ticket()
        cache.store(self.response("a"), for: "a", tags: [.collection("c")], freshness: freshness, ticket: before)
        cache.removeAll()
        #expect(cache.statistics.entries == 0 && cache.statistics.bytes == 0)
        #expect(cache.store(self.response("b"), for: "b", tags: [.collection("d")], freshness: freshness, ticket: before) == .invalidatedMeanwhile)
        #expect(cache.store(self.response("b"), for: "b", tags: [.collection("d")], freshness: freshness, ticket: cache.ticket()) == .stored)
    }

    @Test func forgettingOldInvalidationsStaysSafe() {
        let cache = ResponseCache(maxBytes: 1 << 20, maxTrackedTags: 10)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        let before = cache.ticket()
        for index in 0..<25 { cache.invalidate([.document(collection: "c", id: "\(index)")]) }
        // The invalidation of c/3 is no longer tracked by tag, but the old ticket is refused all the same.
        #expect(cache.store(self.response("stale"), for: "c3", tags: [.document(collection: "c", id: "3")], freshness: freshness, ticket: before) == .invalidatedMeanwhile)
    }
}

/// Invalidation events in order drop exactly their tags; a gap or a restart drops everything.
struct InvalidationApplierTests {
    private func message(_ events: [(Int64, String, String)]) -> String {
        InvalidationMessageText.make(events)
    }

    @Test func eventsDropTheirDocumentsAndListingsAndGapsDropEverything() {
        let cache = ResponseCache(maxBytes: 1 << 20)
        let applier = InvalidationApplier(cache: cache)
        let freshness = ResponseCache.Freshness(ttl: .seconds(60))
        func fill() {
            let ticket = cache.ticket()
            for (key, tags) in [("p1", [CacheTag.document(collection: "posts", id: "p1")]), ("p2", [.document(collection: "posts", id: "p2")]),
                                ("list", [.collection("posts")]), ("n1", [.document(collection: "notes", id: "n1")])] {
                cache.store(CachedResponse(status: 200, body: [], etag: nil), for: key, tags: tags, freshness: freshness, ticket: ticket)
            }
        }
        fill()
        #expect(applier.apply(message: self.message([(10, "posts", "p1")])) == .applied(dropped: 2))
        #expect(cache.statistics.entries == 2, "p2 and n1 stay")
        #expect(applier.apply(message: self.message([(10, "posts", "p1")])) == .duplicate)
        #expect(applier.apply(message: self.message([(11, "notes", "n1"), (12, "notes", "n2")])) == .applied(dropped: 1))
        fill()
        #expect(applier.apply(message: self.message([(14, "posts", "p9")])) == .droppedEverything, "version 13 was missed")
        #expect(cache.statistics.entries == 0)
        fill()
        #expect(applier.apply(message: "not json") == .droppedEverything)
        #expect(applier.version == nil)
        fill()
        #expect(applier.apply(message: self.message([(20, "posts", "p1")])) == .applied(dropped: 2), "a new baseline after a drop")
        fill()
        applier.subscriptionRestarted()
        #expect(cache.statistics.entries == 0)
    }
}

enum InvalidationMessageText {
    static func make(_ events: [(Int64, String, String)]) -> String {
        #"{"events":["# + events.map { #"{"version":\#($0.0),"collection":"\#($0.1)","id":"\#($0.2)","kind":"put","committed_at_ms":0}"# }.joined(separator: ",") + "]}"
    }
}
