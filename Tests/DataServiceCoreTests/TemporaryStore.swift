import GatehouseTestSupport
import DataServiceCore

/// Opens a store on a new database in a temporary directory, runs `body`, then closes it.
func withTemporaryStore<Value>(
    _ configure: (inout DocumentStoreConfiguration) -> Void = { _ in },
    _ body: (DocumentStore, DocumentStoreConfiguration) async throws -> Value
) async throws -> Value {
    try await withTemporaryDirectory { directory in
        var configuration = DocumentStoreConfiguration(path: "\(directory)/documents.sqlite")
        configure(&configuration)
        let store = try await DocumentStore(configuration)
        do {
            let value = try await body(store, configuration)
            await store.close()
            return value
        } catch {
            await store.close()
            throw error
        }
    }
}

/// A small JSON object body.
func body(_ fields: [String: String]) -> String {
    "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}"
}
