import DataServiceCore
import GatehouseDataAPI
import Testing

@Suite struct OutboxTests {
    @Test func everyCommittedChangeHasOneEventWithItsVersionInOrder() async throws {
        try await withTemporaryStore { store, _ in
            var expected: [(collection: String, id: String, kind: InvalidationMessage.Event.Kind, version: Int64)] = []
            func record(_ write: DocumentWrite) async throws {
                do throws(DocumentError) {
                    let outcome = try await store.write(write)
                    switch write {
                    case .put(let collection, let id, _, _, _):
                        expected.append((collection, id, .put, outcome.version))
                    case .create(let collection, _, _):
                        guard case .created(let document) = outcome else { throw DocumentError.closed }
                        expected.append((collection, document.id, .put, outcome.version))
                    case .delete(let collection, let id, _):
                        expected.append((collection, id, .delete, outcome.version))
                    }
                } catch {
                    guard case .conflict = error else {
                        guard case .notFound = error else { throw error }
                        return
                    }
                }
            }
            let before = try await store.dataVersion()
            #expect(before == 0)
            try await record(.put(collection: "a", id: "1", body: "{}"))
            try await record(.put(collection: "a", id: "1", body: "{}", ifVersion: 0))  // conflict: no version used
            try await record(.create(collection: "b", body: "{}"))
            try await record(.delete(collection: "a", id: "nope"))  // not found: no version used
            try await record(.put(collection: "a", id: "1", body: #"{"x":1}"#, ifVersion: 1))
            try await record(.delete(collection: "a", id: "1"))
            try await record(.put(collection: "a", id: "2", body: "{}"))

            #expect(try await store.dataVersion() == Int64(expected.count))
            let events = try await store.pendingEvents(after: 0, limit: 100)
            #expect(events.map(\.version) == Array(1...Int64(expected.count)))
            #expect(events.map(\.version) == expected.map(\.version))
            #expect(events.map(\.collection) == expected.map(\.collection))
            #expect(events.map(\.id) == expected.map(\.id))
            #expect(events.map(\.kind) == expected.map(\.kind))
            #expect(events.allSatisfy { $0.committedAtMs > 1_700_000_000_000 })

            let page = try await store.pendingEvents(after: 2, limit: 2)
            #expect(page.map(\.version) == [3, 4])
        }
    }

    @Test func publishedEventsAreDeletedAndDepthAndAgeFollow() async throws {
        try await withTemporaryStore { store, _ in
            #expect(try await store.outboxDepth() == 0)
            #expect(try await store.oldestPendingEventAge() == nil)
            for index in 0..<10 {
                _ = try await store.write(.put(collection: "c", id: "d\(index)", body: "{}"))
            }
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await store.outboxDepth() == 10)
            let age = try #require(try await store.oldestPendingEventAge())
            #expect(age >= .milliseconds(20))
            #expect(age < .seconds(30))

            #expect(try await store.deleteEvents(through: 4) == 4)
            #expect(try await store.outboxDepth() == 6)
            #expect(try await store.pendingEvents(after: 0, limit: 100).map(\.version) == Array(5...10))
            #expect(try await store.deleteEvents(through: 4) == 0)
            #expect(try await store.deleteEvents(through: 10) == 6)
            #expect(try await store.outboxDepth() == 0)
            #expect(try await store.oldestPendingEventAge() == nil)
            // Deleting events does not touch the data version or the documents.
            #expect(try await store.dataVersion() == 10)
            #expect(try await store.get(collection: "c", id: "d9")?.version == 10)
        }
    }
}
