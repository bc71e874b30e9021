import Foundation

extension DocumentStore {
    /// Opens the store, creating the database's folder when needed.
    /// - Parameter configuration: The SQLite file and write limits.
    /// - Returns: The open store.
    /// - Throws: When the folder cannot be created or the database does not open.
    package static func open(_ configuration: DocumentStoreConfiguration) async throws -> DocumentStore {
        let folder = URL(fileURLWithPath: configuration.path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try await DocumentStore(configuration)
    }
}
