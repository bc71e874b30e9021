import Foundation
import GatehouseDataAPI
import GatehouseSQLite

/// One read-only connection on its own thread; the store spreads reads over several.
///
/// Every query is a cached prepared statement, so a read is one bind-and-step loop.
actor DocumentReader {
    private let executor: DedicatedThreadExecutor
    private var connection: SQLiteConnection?

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Opens a read-only connection; the database must exist and be migrated.
    init(path: String, busyTimeout: Duration, threadName: String) throws(DocumentError) {
        executor = DedicatedThreadExecutor(name: threadName)
        do {
            connection = try SQLiteConnection(path: path, readOnly: true, busyTimeout: busyTimeout)
        } catch {
            throw .storage(error)
        }
    }

    func close() {
        connection?.close()
        connection = nil
    }

    /// Runs `body` on the open connection, mapping SQLite failures.
    private func read<Value>(
        _ body: (SQLiteConnection) throws(SQLiteError) -> Value
    ) throws(DocumentError) -> Value {
        guard let connection else { throw .closed }
        do {
            return try body(connection)
        } catch {
            throw .storage(error)
        }
    }

    func get(collection: String, id: String) throws(DocumentError) -> Document? {
        try read { connection throws(SQLiteError) in
            try connection.withStatement(Self.getSQL) { statement throws(SQLiteError) in
                try statement.bind(collection, at: 1)
                try statement.bind(id, at: 2)
                guard try statement.step() else { return nil }
                return Document(
                    collection: collection,
                    id: id,
                    body: statement.string(at: 0),
                    version: statement.int64(at: 1),
                    createdAt: statement.int64(at: 2),
                    updatedAt: statement.int64(at: 3),
                    owner: statement.optionalString(at: 4)
                )
            }
        }
    }

    /// Reads, in id order after `after`, up to `limit` documents whose ``DocumentWireSize/listEntry(_:)``
    /// sizes add up to at most `maxBytes`; the first document is read whatever its size.
    /// - Returns: The documents, and whether more follow (a row past `limit`, or one that did not fit).
    func list(
        collection: String, after: String, limit: Int, maxBytes: Int, query: FullTextQuery?, owner: String?
    ) throws(DocumentError) -> (documents: [Document], more: Bool) {
        let sql =
            switch (query != nil, owner != nil) {
            case (false, false): Self.listSQL
            case (false, true): Self.listByOwnerSQL
            case (true, false): Self.searchSQL
            case (true, true): Self.searchByOwnerSQL
            }
        return try read { connection throws(SQLiteError) in
            try connection.withStatement(sql) { statement throws(SQLiteError) in
                try statement.bind(collection, at: 1)
                try statement.bind(after, at: 2)
                // One extra row tells whether another page follows.
                try statement.bind(Int64(limit) + 1, at: 3)
                if let owner { try statement.bind(owner, at: 4) }
                if let query { try statement.bind(query.expression, at: 5) }
                var documents: [Document] = []
                documents.reserveCapacity(limit)
                var bytes = 0
                while try statement.step() {
                    if documents.count == limit { return (documents, true) }
                    let document = Document(
                        collection: collection,
                        id: statement.string(at: 0),
                        body: statement.string(at: 1),
                        version: statement.int64(at: 2),
                        createdAt: statement.int64(at: 3),
                        updatedAt: statement.int64(at: 4),
                        owner: statement.optionalString(at: 5)
                    )
                    let size = DocumentWireSize.listEntry(document)
                    if !documents.isEmpty, bytes + size > maxBytes { return (documents, true) }
                    documents.append(document)
                    bytes += size
                }
                return (documents, false)
            }
        }
    }

    func dataVersion() throws(DocumentError) -> Int64 {
        try read { connection throws(SQLiteError) in
            try connection.withStatement("SELECT version FROM data_version WHERE id = 1") { statement throws(SQLiteError) in
                try statement.step() ? statement.int64(at: 0) : 0
            }
        }
    }

    func pendingEvents(after version: Int64, limit: Int) throws(DocumentError) -> [InvalidationMessage.Event] {
        try read { connection throws(SQLiteError) in
            try connection.withStatement(Self.pendingEventsSQL) { statement throws(SQLiteError) in
                try statement.bind(version, at: 1)
                try statement.bind(Int64(limit), at: 2)
                var events: [InvalidationMessage.Event] = []
                while try statement.step() {
                    events.append(
                        InvalidationMessage.Event(
                            version: statement.int64(at: 0),
                            collection: statement.string(at: 1),
                            id: statement.string(at: 2),
                            kind: statement.string(at: 3) == "delete" ? .delete : .put,
                            committedAtMs: statement.int64(at: 4)
                        ))
                }
                return events
            }
        }
    }

    func outboxDepth(after version: Int64) throws(DocumentError) -> Int {
        try read { connection throws(SQLiteError) in
            try connection.withStatement("SELECT count(*) FROM outbox WHERE version > ?1") { statement throws(SQLiteError) in
                try statement.bind(version, at: 1)
                return try statement.step() ? Int(statement.int64(at: 0)) : 0
            }
        }
    }

    /// The commit time of the oldest outbox event after `version`, or nil when there is none.
    func oldestPendingCommittedAt(after version: Int64) throws(DocumentError) -> Int64? {
        try read { connection throws(SQLiteError) in
            try connection.withStatement("SELECT committed_at FROM outbox WHERE version > ?1 ORDER BY version LIMIT 1") {
                statement throws(SQLiteError) in
                try statement.bind(version, at: 1)
                return try statement.step() ? statement.int64(at: 0) : nil
            }
        }
    }

    func backup(to destination: String) throws(DocumentError) {
        try read { connection throws(SQLiteError) in
            try connection.backup(to: destination)
        }
    }

    private static let getSQL = """
        SELECT body, version, created_at, updated_at, owner
        FROM documents WHERE collection = ?1 AND id = ?2
        """
    private static let listSQL = """
        SELECT id, body, version, created_at, updated_at, owner
        FROM documents WHERE collection = ?1 AND id > ?2
        ORDER BY id LIMIT ?3
        """
    private static let listByOwnerSQL = """
        SELECT id, body, version, created_at, updated_at, owner
        FROM documents WHERE collection = ?1 AND owner = ?4 AND id > ?2
        ORDER BY id LIMIT ?3
        """
    private static let searchSQL = """
        SELECT d.id, d.body, d.version, d.created_at, d.updated_at, d.owner
        FROM documents_fts JOIN documents AS d ON d.doc_key = documents_fts.rowid
        WHERE documents_fts MATCH ?5 AND d.collection = ?1 AND d.id > ?2
        ORDER BY d.id LIMIT ?3
        """
    private static let searchByOwnerSQL = """
        SELECT d.id, d.body, d.version, d.created_at, d.updated_at, d.owner
        FROM documents_fts JOIN documents AS d ON d.doc_key = documents_fts.rowid
        WHERE documents_fts MATCH ?5 AND d.collection = ?1 AND d.owner = ?4 AND d.id > ?2
        ORDER BY d.id LIMIT ?3
        """
    private static let pendingEventsSQL = """
        SELECT version, collection, id, kind, committed_at
        FROM outbox WHERE version > ?1 ORDER BY version LIMIT ?2
        """
}
