import DataServiceCore
import Testing

@Suite struct DocumentWriteTests {
    @Test func putCreatesThenReplacesKeepingCreationAndOwner() async throws {
        try await withTemporaryStore { store, _ in
            let created = try await store.write(
                .put(collection: "notes", id: "n1", body: body(["text": "first"]), owner: "alice"))
            guard case .created(let first) = created else {
                Issue.record("expected created, got \(created)")
                return
            }
            #expect(first.version == 1)
            #expect(first.owner == "alice")
            #expect(first.createdAt == first.updatedAt)
            #expect(try await store.get(collection: "notes", id: "n1") == first)

            try await Task.sleep(for: .milliseconds(3))
            let replaced = try await store.write(
                .put(collection: "notes", id: "n1", body: body(["text": "second"]), owner: "bob"))
            guard case .replaced(let second) = replaced else {
                Issue.record("expected replaced, got \(replaced)")
                return
            }
            #expect(second.version == 2)
            #expect(second.owner == "alice")
            #expect(second.createdAt == first.createdAt)
            #expect(second.updatedAt > first.updatedAt)
            #expect(try await store.get(collection: "notes", id: "n1") == second)
            #expect(try await store.get(collection: "other", id: "n1") == nil)
            #expect(try await store.dataVersion() == 2)
        }
    }

    @Test func createChoosesAFreshLowercaseId() async throws {
        try await withTemporaryStore { store, _ in
            var ids: Set<String> = []
            for _ in 0..<20 {
                guard case .created(let document) = try await store.write(.create(collection: "c", body: "{}", owner: "me"))
                else {
                    Issue.record("create must create")
                    return
                }
                #expect(document.id == document.id.lowercased())
                #expect(document.owner == "me")
                try DocumentName.validate(document.id, field: "id")
                ids.insert(document.id)
            }
            #expect(ids.count == 20)
        }
    }

    @Test func ifVersionZeroMeansMustNotExist() async throws {
        try await withTemporaryStore { store, _ in
            let first = try await store.write(.put(collection: "c", id: "d", body: "{}", ifVersion: 0))
            #expect(first.version == 1)
            let error = await #expect(throws: DocumentError.self) {
                try await store.write(.put(collection: "c", id: "d", body: "{}", ifVersion: 0))
            }
            #expect(error == .conflict(collection: "c", id: "d", expected: 0, actual: 1))
            #expect(error?.description.contains("c/d") == true)
        }
    }

    @Test func ifVersionMustMatchTheCurrentVersion() async throws {
        try await withTemporaryStore { store, _ in
            let missing = await #expect(throws: DocumentError.self) {
                try await store.write(.put(collection: "c", id: "d", body: "{}", ifVersion: 5))
            }
            #expect(missing == .conflict(collection: "c", id: "d", expected: 5, actual: nil))
            #expect(missing?.description.contains("does not exist") == true)

            _ = try await store.write(.put(collection: "c", id: "d", body: body(["v": "1"])))
            _ = try await store.write(.put(collection: "c", id: "other", body: "{}"))
            let stale = await #expect(throws: DocumentError.self) {
                try await store.write(.put(collection: "c", id: "d", body: body(["v": "stale"]), ifVersion: 2))
            }
            #expect(stale == .conflict(collection: "c", id: "d", expected: 2, actual: 1))
            let current = try await store.write(.put(collection: "c", id: "d", body: body(["v": "2"]), ifVersion: 1))
            #expect(current.version == 3)
            #expect(try await store.get(collection: "c", id: "d")?.body == body(["v": "2"]))
        }
    }

    @Test func deleteNeedsAnExistingDocumentAndTheRightVersion() async throws {
        try await withTemporaryStore { store, _ in
            let missing = await #expect(throws: DocumentError.self) {
                try await store.write(.delete(collection: "c", id: "d"))
            }
            #expect(missing == .notFound(collection: "c", id: "d"))
            #expect(missing?.description == "document c/d not found")

            _ = try await store.write(.put(collection: "c", id: "d", body: "{}"))
            let stale = await #expect(throws: DocumentError.self) {
                try await store.write(.delete(collection: "c", id: "d", ifVersion: 7))
            }
            #expect(stale == .conflict(collection: "c", id: "d", expected: 7, actual: 1))
            let deleted = try await store.write(.delete(collection: "c", id: "d", ifVersion: 1))
            #expect(deleted == .deleted(collection: "c", id: "d", version: 2))
            #expect(try await store.get(collection: "c", id: "d") == nil)
            let again = await #expect(throws: DocumentError.self) {
                try await store.write(.delete(collection: "c", id: "d"))
            }
            #expect(again == .notFound(collection: "c", id: "d"))
            #expect(try await store.dataVersion() == 2)
        }
    }

    @Test func closedStoreRefusesWork() async throws {
        try await withTemporaryStore { store, _ in
            await store.close()
            let write = await #expect(throws: DocumentError.self) { try await store.write(.create(collection: "c", body: "{}")) }
            #expect(write == .closed)
            let read = await #expect(throws: DocumentError.self) { try await store.get(collection: "c", id: "d") }
            #expect(read == .closed)
        }
    }
}
