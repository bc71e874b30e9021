import GatehouseTestSupport
import DataServiceCore
import GatehouseSQLite
import Testing

@Suite struct StoreLifecycleTests {
    @Test func freshFileMigratesAndReopeningKeepsData() async throws {
        try await withTemporaryDirectory { directory in
            let configuration = DocumentStoreConfiguration(path: "\(directory)/documents.sqlite")
            let first = try await DocumentStore(configuration)
            _ = try await first.write(.put(collection: "c", id: "kept", body: #"{"a":1}"#))
            await first.close()

            let second = try await DocumentStore(configuration)
            #expect(try await second.get(collection: "c", id: "kept")?.body == #"{"a":1}"#)
            #expect(try await second.dataVersion() == 1)
            await second.close()

            let raw = try SQLiteConnection(path: configuration.path, readOnly: true)
            let version = try raw.withStatement("PRAGMA user_version") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.int64(at: 0)
            }
            #expect(version == 1)
        }
    }

    @Test func databaseFromNewerCodeIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/documents.sqlite"
            let raw = try SQLiteConnection(path: path)
            try raw.execute("PRAGMA user_version = 42")
            raw.close()
            let error = await #expect(throws: DocumentError.self) {
                try await DocumentStore(DocumentStoreConfiguration(path: path))
            }
            #expect(error == .schemaTooNew(databaseVersion: 42, latestKnownVersion: 1))
            #expect(error?.description.contains("upgrade the service") == true)
        }
    }

    @Test func unopenablePathIsAStorageError() async throws {
        try await withTemporaryDirectory { directory in
            let error = await #expect(throws: DocumentError.self) {
                try await DocumentStore(DocumentStoreConfiguration(path: "\(directory)/missing/dir/documents.sqlite"))
            }
            guard case .storage(let underlying) = error else {
                Issue.record("expected storage, got \(String(describing: error))")
                return
            }
            #expect(underlying.message.contains("missing/dir"))
        }
    }

    @Test func backupWhileWritingIsAConsistentCopy() async throws {
        try await withTemporaryStore { store, configuration in
            for index in 0..<100 {
                _ = try await store.write(.create(collection: "c", body: body(["text": "seed \(index)"])))
            }
            let writing = Task {
                for index in 0..<400 {
                    _ = try await store.write(.create(collection: "c", body: body(["text": "during \(index)"])))
                }
            }
            let copy = configuration.path + ".backup"
            try await store.backup(to: copy)
            try await writing.value

            // Every write creates one document, so a consistent copy has as many documents as its data version.
            let restored = try await DocumentStore(DocumentStoreConfiguration(path: copy))
            let version = try await restored.dataVersion()
            #expect(version >= 100)
            var restoredDocuments: [Document] = []
            var cursor: String?
            repeat {
                let page = try await restored.list(collection: "c", limit: 1000, cursor: cursor)
                restoredDocuments.append(contentsOf: page.documents)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(restoredDocuments.count == Int(version))
            #expect(try await restored.pendingEvents(after: 0, limit: 1000).count == Int(version))
            for document in restoredDocuments {
                #expect(try await store.get(collection: "c", id: document.id) == document)
            }
            let searchable = try await restored.list(collection: "c", limit: 1000, query: "seed")
            #expect(searchable.documents.count == 100)
            await restored.close()

            let raw = try SQLiteConnection(path: copy)
            try raw.execute("INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')")
        }
    }
}
