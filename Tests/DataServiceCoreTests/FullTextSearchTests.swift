import DataServiceCore
import Testing

@Suite struct FullTextSearchTests {
    private func ids(_ store: DocumentStore, _ query: String, collection: String = "notes", owner: String? = nil) async throws -> [String] {
        try await store.list(collection: collection, limit: 1000, query: query, owner: owner).documents.map(\.id)
    }

    @Test func searchFindsWrittenUpdatedAndNotDeletedText() async throws {
        try await withTemporaryStore { store, _ in
            _ = try await store.write(.put(collection: "notes", id: "n1", body: body(["text": "The quick brown fox"]), owner: "alice"))
            _ = try await store.write(.put(collection: "notes", id: "n2", body: body(["text": "A lazy brown dog"]), owner: "bob"))
            _ = try await store.write(.put(collection: "other", id: "n3", body: body(["text": "brown bread"])))

            #expect(try await ids(store, "brown") == ["n1", "n2"])
            #expect(try await ids(store, "BROWN fox") == ["n1"])
            #expect(try await ids(store, "brown", owner: "bob") == ["n2"])
            #expect(try await ids(store, "brown", collection: "other") == ["n3"])
            #expect(try await ids(store, "cat").isEmpty)

            _ = try await store.write(.put(collection: "notes", id: "n1", body: body(["text": "A sleepy cat"])))
            #expect(try await ids(store, "cat") == ["n1"])
            #expect(try await ids(store, "fox").isEmpty)
            #expect(try await ids(store, "brown") == ["n2"])

            _ = try await store.write(.delete(collection: "notes", id: "n2"))
            #expect(try await ids(store, "brown").isEmpty)
            #expect(try await ids(store, "lazy").isEmpty)
            #expect(try await ids(store, "brown", collection: "other") == ["n3"])
        }
    }

    @Test func indexFollowsConcurrentUpdatesAndDeletesOfTheSameDocuments() async throws {
        try await withTemporaryStore { store, _ in
            // 300 concurrent writes over 10 documents, so one batch often changes a document several times.
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let id = "d\(index % 10)"
                        if index % 7 == 6 {
                            _ = try? await store.write(.delete(collection: "notes", id: id))
                        } else {
                            _ = try? await store.write(.put(collection: "notes", id: id, body: body(["text": "token\(index) shared"])))
                        }
                    }
                }
            }
            var finalTokens: [String: String] = [:]
            for document in try await store.list(collection: "notes", limit: 100).documents {
                let text = try #require(document.body.split(separator: "\"").first { $0.hasPrefix("token") })
                finalTokens[String(text.prefix { $0 != " " })] = document.id
            }
            for index in 0..<300 where index % 7 != 6 {
                let found = try await ids(store, "token\(index)")
                #expect(found == finalTokens["token\(index)"].map { [$0] } ?? [], "token\(index)")
            }
            #expect(try await ids(store, "shared").sorted() == finalTokens.values.sorted())
        }
    }

    @Test func searchResultsArePaginatedById() async throws {
        try await withTemporaryStore { store, _ in
            for index in 0..<25 {
                let text = index.isMultiple(of: 3) ? "needle \(index)" : "hay \(index)"
                _ = try await store.write(.put(collection: "notes", id: "d\(String(index + 100))", body: body(["text": text])))
            }
            var found: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.list(collection: "notes", limit: 3, cursor: cursor, query: "needle")
                found.append(contentsOf: page.documents.map(\.id))
                cursor = page.nextCursor
            } while cursor != nil
            #expect(found == stride(from: 0, to: 25, by: 3).map { "d\($0 + 100)" })
        }
    }

    @Test(arguments: [
        "\"", "\"\"", "*", "NEAR(", "NEAR(a b", "a OR", "OR", "AND NOT", "(", ")", "a:b", "body:quick", "^quick",
        "-quick", "+", "{body}: quick", "quick\"brown", "\"quick brown\"", "qu*", "'", "\\", "a \u{0} b", "🦊",
        "NEAR(quick brown, 2)", "quick AND", "col:", ";DROP TABLE documents;--",
    ])
    func hostileQueriesAreNeverSyntaxErrors(query: String) async throws {
        try await withTemporaryStore { store, _ in
            _ = try await store.write(.put(collection: "notes", id: "n1", body: body(["text": "The quick brown fox"])))
            _ = try await ids(store, query)
            #expect(try await store.get(collection: "notes", id: "n1") != nil)
        }
    }

    @Test func operatorWordsAreSearchedAsPlainWords() async throws {
        try await withTemporaryStore { store, _ in
            _ = try await store.write(.put(collection: "notes", id: "n1", body: body(["text": "cats OR dogs"])))
            _ = try await store.write(.put(collection: "notes", id: "n2", body: body(["text": "cats only"])))
            #expect(try await ids(store, "cats OR dogs") == ["n1"])
            #expect(try await ids(store, "\"cats\"") == ["n1", "n2"])
        }
    }

    @Test(arguments: ["", "   ", "\n\t"])
    func blankQueryIsATypedError(query: String) async throws {
        try await withTemporaryStore { store, _ in
            let error = await #expect(throws: DocumentError.self) { try await ids(store, query) }
            guard case .invalidArgument(let field, _, _) = error else {
                Issue.record("expected invalidArgument, got \(String(describing: error))")
                return
            }
            #expect(field == "q")
        }
    }
}
