import Foundation
import GatehouseDataAPI
import GatehouseSQLite
import Synchronization

/// The data service's document store: one SQLite file, one group-committing writer and a pool of
/// read-only connections, each on its own thread.
///
/// Every successful write bumps the global data version by one, stamps the document with it and
/// adds an outbox event with the same version, all in the writer's transaction. Reads use WAL
/// snapshots, so they never wait for writers, and a write's caller is answered after COMMIT, so
/// any read that starts afterwards sees it.
package final class DocumentStore: Sendable {
    /// The page sizes ``list(collection:limit:cursor:query:owner:)`` accepts.
    package static let pageSizes = 1...1000

    private let configuration: DocumentStoreConfiguration
    private let writer: DocumentWriter
    private let readers: [DocumentReader]
    private let nextReader = Atomic<Int>(0)

    /// Opens the store: creates or migrates the database, then opens the read connections.
    /// - Parameter configuration: The file and limits.
    /// - Throws: ``DocumentError/schemaTooNew(databaseVersion:latestKnownVersion:)`` when newer code
    ///   wrote the file, ``DocumentError/storage(_:)`` when it cannot be opened or migrated.
    package init(_ configuration: DocumentStoreConfiguration) async throws(DocumentError) {
        self.configuration = configuration
        let writer = try DocumentWriter(configuration: configuration)
        do {
            try await writer.migrate()
        } catch {
            await writer.close()
            throw error
        }
        var readers: [DocumentReader] = []
        for index in 0..<max(1, configuration.readerCount) {
            do {
                readers.append(
                    try DocumentReader(
                        path: configuration.path, busyTimeout: configuration.busyTimeout,
                        threadName: "gatehouse-sqlite-reader-\(index)"
                    ))
            } catch {
                await writer.close()
                for reader in readers { await reader.close() }
                throw error
            }
        }
        self.writer = writer
        self.readers = readers
    }

    /// Closes every connection; later calls fail with ``DocumentError/closed``.
    package func close() async {
        await writer.close()
        for reader in readers {
            await reader.close()
        }
    }

    /// The largest body a write may have (``DocumentStoreConfiguration/maxBodyBytes``).
    package var maxBodyBytes: Int { configuration.maxBodyBytes }

    private var reader: DocumentReader {
        let turn = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return readers[Int(UInt(bitPattern: turn) % UInt(readers.count))]
    }

    // MARK: Writes

    /// Validates a write, queues it for the next group commit and waits for the commit.
    /// - Parameter write: The change; see ``DocumentWrite`` for `ifVersion`.
    /// - Returns: What the write did, with the new data version.
    /// - Throws: ``DocumentError``: `invalidName`, `invalidArgument`, `bodyNotObject` or
    ///   `bodyTooLarge` before queueing; `conflict` or `notFound` for this write alone;
    ///   `overloaded` when the queue is full; `storage` when the transaction failed.
    package func write(_ write: DocumentWrite) async throws(DocumentError) -> WriteOutcome {
        let prepared = try PreparedWrite(write, maxBodyBytes: configuration.maxBodyBytes)
        return try await writer.write(prepared).get()
    }

    /// Deletes outbox events up to and including a version, once they have been published.
    /// - Parameter version: The last published version.
    /// - Returns: The number of events deleted.
    /// - Throws: ``DocumentError/storage(_:)`` or ``DocumentError/closed``.
    @discardableResult
    package func deleteEvents(through version: Int64) async throws(DocumentError) -> Int {
        try await writer.deleteEvents(through: version)
    }

    // MARK: Reads

    /// Reads one document.
    /// - Parameters:
    ///   - collection: The collection name.
    ///   - id: The document id.
    /// - Returns: The document, or nil when it does not exist.
    /// - Throws: ``DocumentError/invalidName(field:value:reason:)`` or a storage failure.
    package func get(collection: String, id: String) async throws(DocumentError) -> Document? {
        try DocumentName.validate(collection, field: "collection")
        try DocumentName.validate(id, field: "id")
        return try await reader.get(collection: collection, id: id)
    }

    /// Lists a collection in id order, one page at a time (keyset pagination).
    ///
    /// Each document that exists for the whole walk appears exactly once, whatever is written
    /// meanwhile; documents added behind the cursor are not seen. A page ends after `limit` documents or
    /// before the document that would take it past `maxBytes`, whichever comes first; either way
    /// `nextCursor` continues after its last document.
    /// - Parameters:
    ///   - collection: The collection name.
    ///   - limit: The page size, within ``pageSizes``.
    ///   - maxBytes: The most bytes the page's documents may take in a `data.List` answer
    ///     (``DocumentWireSize/listEntry(_:)``); the page's first document is returned whatever its size.
    ///   - cursor: The `nextCursor` of the previous page, or nil for the first page.
    ///   - query: Search text; only documents whose body contains every word are listed.
    ///   - owner: Only documents created by this subject are listed.
    /// - Returns: The page and the cursor of the next one.
    /// - Throws: ``DocumentError`` naming the invalid field (`collection`, `limit`, `cursor`, `q`),
    ///   or a storage failure.
    package func list(
        collection: String, limit: Int = 100, maxBytes: Int = .max, cursor: String? = nil, query: String? = nil, owner: String? = nil
    ) async throws(DocumentError) -> DocumentPage {
        try DocumentName.validate(collection, field: "collection")
        guard Self.pageSizes.contains(limit) else {
            throw .invalidArgument(
                field: "limit", value: String(limit),
                reason: "must be between \(Self.pageSizes.lowerBound) and \(Self.pageSizes.upperBound)"
            )
        }
        if let cursor {
            try DocumentName.validate(cursor, field: "cursor")
        }
        let fullText = try query.map { text throws(DocumentError) in try FullTextQuery(text) }
        let (documents, more) = try await reader.list(
            collection: collection, after: cursor ?? "", limit: limit, maxBytes: maxBytes, query: fullText, owner: owner
        )
        return DocumentPage(documents: documents, nextCursor: more ? documents.last?.id : nil)
    }

    /// Reads the global data version: the version of the latest committed change, 0 when none.
    /// - Returns: The data version.
    /// - Throws: A storage failure or ``DocumentError/closed``.
    package func dataVersion() async throws(DocumentError) -> Int64 {
        try await reader.dataVersion()
    }

    // MARK: Outbox

    /// Reads outbox events in version order, for a publisher.
    /// - Parameters:
    ///   - version: Only events with a greater version are returned; 0 for all.
    ///   - limit: The most events to return.
    /// - Returns: Up to `limit` events, oldest first.
    /// - Throws: ``DocumentError/invalidArgument(field:value:reason:)`` for a limit below 1, or a storage failure.
    package func pendingEvents(after version: Int64, limit: Int) async throws(DocumentError) -> [InvalidationMessage.Event] {
        guard limit >= 1 else {
            throw .invalidArgument(field: "limit", value: String(limit), reason: "must be at least 1")
        }
        return try await reader.pendingEvents(after: version, limit: limit)
    }

    /// Counts the outbox events after a version (0 counts every event not yet deleted).
    /// - Parameter version: The last version published; events up to it are not counted.
    /// - Returns: The number of pending events.
    /// - Throws: A storage failure or ``DocumentError/closed``.
    package func outboxDepth(after version: Int64 = 0) async throws(DocumentError) -> Int {
        try await reader.outboxDepth(after: version)
    }

    /// How long the oldest outbox event after a version has waited since its commit.
    /// - Parameter version: The last version published; events up to it are not considered.
    /// - Returns: The age, or nil when there is no such event.
    /// - Throws: A storage failure or ``DocumentError/closed``.
    package func oldestPendingEventAge(after version: Int64 = 0) async throws(DocumentError) -> Duration? {
        guard let committedAt = try await reader.oldestPendingCommittedAt(after: version) else { return nil }
        return .milliseconds(max(0, Date().millisecondsSince1970 - committedAt))
    }

    // MARK: Backup

    /// Writes a consistent copy of the database to a new file while reads and writes go on.
    ///
    /// The copy is taken by a connection and thread of its own, so a long backup does not hold
    /// up the reads of the pool.
    /// - Parameter path: The copy's path; the file must not exist.
    /// - Throws: ``DocumentError/storage(_:)`` when the copy cannot be written.
    package func backup(to path: String) async throws(DocumentError) {
        let copier = try DocumentReader(
            path: configuration.path, busyTimeout: configuration.busyTimeout, threadName: "gatehouse-sqlite-backup"
        )
        do {
            try await copier.backup(to: path)
            await copier.close()
        } catch {
            await copier.close()
            throw error
        }
    }
}
