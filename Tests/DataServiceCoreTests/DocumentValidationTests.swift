@testable import DataServiceCore
import Testing

@Suite struct DocumentValidationTests {
    @Test(arguments: [
        ("", "must not be empty"),
        (String(repeating: "a", count: 129), "is 129 characters long; the maximum is 128"),
        ("a/b", "contains '/'"),
        ("has space", "contains ' '"),
        ("caf\u{E9}", "contains a non-ASCII character"),
    ])
    func invalidNamesAreRejectedNamingTheField(name: String, reason: String) async throws {
        try await withTemporaryStore { store, _ in
            let collectionError = await #expect(throws: DocumentError.self) {
                try await store.write(.put(collection: name, id: "ok", body: "{}"))
            }
            guard case .invalidName(let field, let value, let actualReason) = collectionError else {
                Issue.record("expected invalidName, got \(String(describing: collectionError))")
                return
            }
            #expect(field == "collection")
            #expect(value == name)
            #expect(actualReason.contains(reason))
            #expect(collectionError?.description.hasPrefix("invalid collection") == true)

            let idError = await #expect(throws: DocumentError.self) {
                try await store.write(.delete(collection: "ok", id: name))
            }
            #expect(idError?.description.hasPrefix("invalid id") == true)
            let getError = await #expect(throws: DocumentError.self) { try await store.get(collection: "ok", id: name) }
            #expect(getError?.description.hasPrefix("invalid id") == true)
        }
    }

    @Test func longestAndOddButValidNamesAreAccepted() async throws {
        try await withTemporaryStore { store, _ in
            let name = String(repeating: "Z", count: DocumentName.maximumLength - 4) + "_.-9"
            let outcome = try await store.write(.put(collection: name, id: name, body: "{}"))
            #expect(outcome.version == 1)
            #expect(try await store.get(collection: name, id: name)?.body == "{}")
        }
    }

    @Test(arguments: [
        "[1,2]", "\"text\"", "42", "true", "null", "", "   ", "{\"a\":", "{\"a\":1} trailing", "{'a':1}",
        // Read differently by different parsers (RFC 7493): a repeated name, a lone surrogate; and too deep.
        "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"a\":\"\\ud800\"}", "{\"a\":" + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + "}",
        // Broken details.
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":\"\u{01}\"}", "{\"a\":\"\\x\"}", "{\"a\":1,}", "{\"a\" 1}",
    ])
    func bodiesThatAreNotJSONObjectsAreRejected(text: String) async throws {
        try await withTemporaryStore { store, _ in
            let error = await #expect(throws: DocumentError.self) {
                try await store.write(.put(collection: "c", id: "d", body: text))
            }
            guard case .bodyNotObject = error else {
                Issue.record("expected bodyNotObject for \(text), got \(String(describing: error))")
                return
            }
            #expect(error?.description.hasPrefix("invalid body: must be a JSON object") == true)
            let version = try await store.dataVersion()
            #expect(version == 0)
        }
    }

    @Test func everyKindOfValidJSONObjectIsAccepted() throws {
        let valid = [
            "{}", " {\"a\": [1, -2.5e+3, 0, 0.1, true, false, null, \"x\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"], \"b\": {\"a\": {}}}\n",
            "{\"a\":" + String(repeating: "[", count: 63) + String(repeating: "]", count: 63) + "}",
            "{\"a\":1,\"A\":2,\"b\":{\"a\":3}}",
        ]
        for text in valid {
            #expect(throws: Never.self, "\(text)") { try DocumentBody.validate(text, limit: 10_000) }
        }
        let repeated = #expect(throws: DocumentError.self) { try DocumentBody.validate(#"{"owner":"me","owner":"admin"}"#, limit: 100) }
        #expect(repeated?.description == #"invalid body: must be a JSON object, but it is not valid JSON: the member name "owner" appears twice in one object (at byte 14)"#)
    }

    @Test func oversizeBodyIsRejectedWithSizeAndLimit() async throws {
        try await withTemporaryStore({ $0.maxBodyBytes = 64 }) { store, _ in
            let large = body(["text": String(repeating: "x", count: 60)])
            let error = await #expect(throws: DocumentError.self) {
                try await store.write(.create(collection: "c", body: large))
            }
            #expect(error == .bodyTooLarge(size: large.utf8.count, limit: 64))
            #expect(error?.description.contains("invalid body") == true)
            let fits = body(["text": String(repeating: "x", count: 40)])
            _ = try await store.write(.create(collection: "c", body: fits))
        }
    }

    @Test func anOwnerLongerThan128BytesIsRejected() async throws {
        try await withTemporaryStore { store, _ in
            let long = String(repeating: "o", count: 129)
            for write in [DocumentWrite.put(collection: "c", id: "d", body: "{}", owner: long), .create(collection: "c", body: "{}", owner: long)] {
                let error = await #expect(throws: DocumentError.self) { try await store.write(write) }
                #expect(error?.description.contains("invalid owner") == true && error?.description.contains("129 bytes") == true, "\(String(describing: error))")
            }
            _ = try await store.write(.put(collection: "c", id: "d", body: "{}", owner: String(repeating: "o", count: 128)))
        }
    }

    @Test func defaultBodyLimitIsOneMebibyte() {
        #expect(DocumentStoreConfiguration(path: "unused").maxBodyBytes == 1_048_576)
    }

    @Test func outOfRangeArgumentsNameTheirField() async throws {
        try await withTemporaryStore { store, _ in
            let negative = await #expect(throws: DocumentError.self) {
                try await store.write(.put(collection: "c", id: "d", body: "{}", ifVersion: -1))
            }
            #expect(negative?.description.hasPrefix("invalid ifVersion \"-1\"") == true)
            for limit in [0, 1001] {
                let error = await #expect(throws: DocumentError.self) { try await store.list(collection: "c", limit: limit) }
                #expect(error?.description.hasPrefix("invalid limit \"\(limit)\"") == true)
            }
            let cursor = await #expect(throws: DocumentError.self) { try await store.list(collection: "c", cursor: "a b") }
            #expect(cursor?.description.hasPrefix("invalid cursor") == true)
            let events = await #expect(throws: DocumentError.self) { try await store.pendingEvents(after: 0, limit: 0) }
            #expect(events?.description.hasPrefix("invalid limit") == true)
        }
    }
}
