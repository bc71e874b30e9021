@testable import DataServiceCore
import Testing

@Suite struct PaginationTests {
    @Test func pagesAreOrderedByIdAndEndWithoutCursor() async throws {
        try await withTemporaryStore { store, _ in
            for index in [3, 1, 2, 5, 4] {
                _ = try await store.write(.put(collection: "c", id: "d\(index)", body: "{}"))
            }
            _ = try await store.write(.put(collection: "other", id: "d0", body: "{}"))
            let first = try await store.list(collection: "c", limit: 2)
            #expect(first.documents.map(\.id) == ["d1", "d2"])
            let second = try await store.list(collection: "c", limit: 2, cursor: first.nextCursor)
            #expect(second.documents.map(\.id) == ["d3", "d4"])
            let third = try await store.list(collection: "c", limit: 2, cursor: second.nextCursor)
            #expect(third.documents.map(\.id) == ["d5"])
            #expect(third.nextCursor == nil)
            // A page that ends exactly at the last document has no cursor either.
            let exact = try await store.list(collection: "c", limit: 5)
            #expect(exact.documents.count == 5)
            #expect(exact.nextCursor == nil)
            #expect(try await store.list(collection: "empty").documents.isEmpty)
        }
    }

    @Test func pagesAreCutByBytesBeforeTheDocumentThatWouldNotFitAndGoOnAtTheCursor() async throws {
        try await withTemporaryStore { store, _ in
            let large = #"{"blob":""# + String(repeating: "x", count: 900_000) + #""}"#
            for index in 1...5 {
                _ = try await store.write(.put(collection: "big", id: "d\(index)", body: large))
            }
            let first = try await store.list(collection: "big", limit: 100, maxBytes: 4 * 1024 * 1024)
            #expect(first.documents.map(\.id) == ["d1", "d2", "d3", "d4"])
            #expect(first.nextCursor == "d4")
            let second = try await store.list(collection: "big", limit: 100, maxBytes: 4 * 1024 * 1024, cursor: first.nextCursor)
            #expect(second.documents.map(\.id) == ["d5"])
            #expect(second.nextCursor == nil)
            // A bound below one document still returns one per page, so a walk always advances.
            let single = try await store.list(collection: "big", limit: 100, maxBytes: 1000)
            #expect(single.documents.map(\.id) == ["d1"])
            #expect(single.nextCursor == "d1")
        }
    }

    @Test func aPageOfExactlyTheByteBoundHoldsItsLastDocument() async throws {
        try await withTemporaryStore { store, _ in
            for index in 1...3 {
                _ = try await store.write(.put(collection: "c", id: "d\(index)", body: #"{"n":\#(index)}"#))
            }
            let all = try await store.list(collection: "c")
            let twoDocuments = all.documents.prefix(2).map(DocumentWireSize.listEntry).reduce(0, +)
            let page = try await store.list(collection: "c", maxBytes: twoDocuments)
            #expect(page.documents.map(\.id) == ["d1", "d2"])
            #expect(page.nextCursor == "d2")
            let shorter = try await store.list(collection: "c", maxBytes: twoDocuments - 1)
            #expect(shorter.documents.map(\.id) == ["d1"])
        }
    }

    @Test func ownerFilterListsOnlyThatOwnersDocuments() async throws {
        try await withTemporaryStore { store, _ in
            for index in 0..<6 {
                _ = try await store.write(
                    .put(collection: "c", id: "d\(index)", body: "{}", owner: index.isMultiple(of: 2) ? "alice" : "bob"))
            }
            let alice = try await store.list(collection: "c", limit: 2, owner: "alice")
            #expect(alice.documents.map(\.id) == ["d0", "d2"])
            let rest = try await store.list(collection: "c", limit: 2, cursor: alice.nextCursor, owner: "alice")
            #expect(rest.documents.map(\.id) == ["d4"])
            #expect(rest.nextCursor == nil)
            #expect(try await store.list(collection: "c", owner: "carol").documents.isEmpty)
        }
    }

    @Test func everyDocumentAppearsExactlyOnceWhileInsertsHappen() async throws {
        try await withTemporaryStore { store, _ in
            let original = (0..<300).map { "m\(String($0 + 1000))" }
            for id in original {
                _ = try await store.write(.put(collection: "c", id: id, body: "{}"))
            }
            // A writer keeps inserting ids that sort before, between and after the walk's position.
            let inserting = Task {
                for index in 0..<300 {
                    _ = try await store.write(.put(collection: "c", id: "a\(index)", body: "{}"))
                    _ = try await store.write(.put(collection: "c", id: "m\(String(index + 1000))x", body: "{}"))
                    _ = try await store.write(.put(collection: "c", id: "z\(index)", body: "{}"))
                }
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.list(collection: "c", limit: 7, cursor: cursor)
                seen.append(contentsOf: page.documents.map(\.id))
                if let cursor {
                    // Deterministic interleaving too: one insert behind the cursor, one ahead.
                    _ = try await store.write(.put(collection: "c", id: "\(cursor)-behind", body: "{}", ifVersion: nil))
                    _ = try await store.write(.put(collection: "c", id: "\(page.nextCursor ?? "zz").ahead", body: "{}"))
                }
                cursor = page.nextCursor
            } while cursor != nil
            try await inserting.value

            #expect(Set(seen).count == seen.count, "some document was listed twice")
            #expect(seen == seen.sorted())
            let counts = Dictionary(seen.map { ($0, 1) }, uniquingKeysWith: +)
            for id in original {
                #expect(counts[id] == 1, "\(id) seen \(counts[id] ?? 0) times")
            }
            #expect(seen.contains { $0.hasSuffix(".ahead") })
            #expect(!seen.contains { $0.hasSuffix("-behind") })
        }
    }
}
