import Foundation
import GatehouseDataAPI
import GatehouseSQLite

/// The single writer connection, committing concurrent writes in groups.
///
/// Writes queue up while a transaction runs. The writer then applies up to `maxBatchSize` of
/// them in one `BEGIN IMMEDIATE` … `COMMIT`, each inside its own SAVEPOINT so a conflict or a
/// missing document undoes only that write. The full-text index changes of the writes that
/// succeeded are applied after the savepoints, in write order, in the same transaction (see
/// ``DocumentSchema``). Callers hear back only after COMMIT returned.
///
/// Group commit: a write joins the queue; when no batch is under way, the first write starts a
/// drain task on this actor, which commits batches until the queue is empty. The actor runs on a dedicated thread, so while a batch
/// is in SQLite new calls wait in that thread's job queue and join the next batch.
actor DocumentWriter {
    private struct Waiter {
        let write: PreparedWrite
        let continuation: CheckedContinuation<Result<WriteOutcome, DocumentError>, Never>
    }

    /// A document's row as the write path needs it.
    private struct ExistingRow {
        let key: Int64
        let version: Int64
        let createdAt: Int64
        let owner: String?
        let body: String
    }

    /// A change to the full-text index; removing needs the exact text that was indexed.
    private enum IndexChange {
        case add(key: Int64, body: String)
        case remove(key: Int64, body: String)
    }

    /// A write that succeeded inside its savepoint, with the index changes it still needs.
    private struct AppliedWrite {
        let outcome: WriteOutcome
        let indexChanges: [IndexChange]
    }

    private let executor: DedicatedThreadExecutor
    private var connection: SQLiteConnection?
    private let maxBatchSize: Int
    private let maxQueuedWrites: Int
    private let onBatch: (@Sendable (WriteBatchStatistics) -> Void)?
    private let onCommit: (@Sendable ([InvalidationMessage.Event]) -> Void)?
    private var waiting: [Waiter] = []
    private var draining = false

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        executor.asUnownedSerialExecutor()
    }

    /// Opens the writable connection (creating the file) without migrating it.
    init(configuration: DocumentStoreConfiguration) throws(DocumentError) {
        executor = DedicatedThreadExecutor(name: "gatehouse-sqlite-writer")
        maxBatchSize = max(1, configuration.maxBatchSize)
        maxQueuedWrites = max(1, configuration.maxQueuedWrites)
        onBatch = configuration.onBatch
        onCommit = configuration.onCommit
        do {
            let connection = try SQLiteConnection(path: configuration.path, busyTimeout: configuration.busyTimeout)
            // Checkpoints run between batches (`drain`), after the callers and the publisher have their
            // results, instead of inside the COMMIT that crosses the threshold.
            connection.deferCheckpoints()
            self.connection = connection
        } catch {
            throw .storage(error)
        }
    }

    /// Brings the schema to the latest version.
    func migrate() throws(DocumentError) {
        guard let connection else { throw .closed }
        do {
            try DocumentSchema.migrator.migrate(connection)
        } catch {
            switch error {
            case .databaseNewerThanCode(_, let databaseVersion, let latestKnownVersion):
                throw .schemaTooNew(databaseVersion: databaseVersion, latestKnownVersion: latestKnownVersion)
            case .migrationFailed(_, let underlying), .sqlite(let underlying):
                throw .storage(underlying)
            }
        }
    }

    func close() {
        connection?.close()
        connection = nil
    }

    /// Queues a write and returns once the transaction holding it has committed or failed.
    ///
    /// A write cannot be cancelled once queued: it is applied, and its caller answered, anyway.
    func write(_ write: PreparedWrite) async -> Result<WriteOutcome, DocumentError> {
        guard connection != nil else { return .failure(.closed) }
        guard waiting.count < maxQueuedWrites else { return .failure(.overloaded(limit: maxQueuedWrites)) }
        return await withCheckedContinuation { continuation in
            waiting.append(Waiter(write: write, continuation: continuation))
            if !draining {
                draining = true
                Task { self.drain() }
            }
        }
    }

    /// Commits queued writes in batches of up to `maxBatchSize` until none is left.
    private func drain() {
        // No yield needed: this task's first job was queued behind every write call queued before
        // it on this actor's thread (the executor is FIFO), so they have all joined `waiting`.
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(maxBatchSize))
            waiting.removeFirst(batch.count)
            let results = commit(batch.map(\.write))
            for (waiter, result) in zip(batch, results) {
                waiter.continuation.resume(returning: result)
            }
            // A failed checkpoint is tried again after the next batch; the log only grows meanwhile.
            try? connection?.checkpointIfLogExceeds()
        }
        draining = false
    }

    /// Applies writes in one transaction, each in its own savepoint.
    private func commit(_ writes: [PreparedWrite]) -> [Result<WriteOutcome, DocumentError>] {
        guard let connection else {
            return Array(repeating: .failure(.closed), count: writes.count)
        }
        let started = ContinuousClock.now
        // The commit time of the events: taken right before COMMIT makes the changes visible.
        var committedAt: Int64 = 0
        var results: [Result<WriteOutcome, DocumentError>] = []
        results.reserveCapacity(writes.count)
        do {
            try connection.transaction { () throws(SQLiteError) in
                let now = Date().millisecondsSince1970
                let startVersion = try Self.currentVersion(connection)
                var version = startVersion
                var indexChanges: [IndexChange] = []
                for write in writes {
                    let result = try connection.withSavepoint {
                        Self.apply(write, version: version + 1, now: now, connection: connection)
                    }
                    switch result {
                    case .success(let applied):
                        version += 1
                        indexChanges.append(contentsOf: applied.indexChanges)
                        results.append(.success(applied.outcome))
                    case .failure(let error):
                        results.append(.failure(error))
                    }
                }
                try Self.updateIndex(indexChanges, connection: connection)
                if version != startVersion {
                    try connection.withStatement("UPDATE data_version SET version = ?1 WHERE id = 1") {
                        statement throws(SQLiteError) in
                        try statement.bind(version, at: 1)
                        _ = try statement.step()
                    }
                }
                committedAt = Date().millisecondsSince1970
            }
        } catch {
            results = Array(repeating: .failure(.storage(error)), count: writes.count)
        }
        if let onCommit {
            Self.report(results, committedAt: committedAt, to: onCommit)
        }
        if let onBatch {
            let committed = results.count { if case .success = $0 { true } else { false } }
            onBatch(
                WriteBatchStatistics(
                    writes: writes.count, committed: committed, failed: writes.count - committed,
                    duration: ContinuousClock.now - started
                ))
        }
        return results
    }

    /// Hands the committed writes' events to `onCommit`.
    private static func report(
        _ results: [Result<WriteOutcome, DocumentError>], committedAt: Int64, to onCommit: @Sendable ([InvalidationMessage.Event]) -> Void
    ) {
        let events = results.compactMap { result -> InvalidationMessage.Event? in
            switch result {
            case .success(.created(let document)), .success(.replaced(let document)):
                InvalidationMessage.Event(
                    version: document.version, collection: document.collection, id: document.id, kind: .put,
                    committedAtMs: committedAt)
            case .success(.deleted(let collection, let id, let version)):
                InvalidationMessage.Event(version: version, collection: collection, id: id, kind: .delete, committedAtMs: committedAt)
            case .failure:
                nil
            }
        }
        if !events.isEmpty {
            onCommit(events)
        }
    }

    /// Deletes outbox events up to and including `version`.
    /// - Returns: The number of events deleted.
    func deleteEvents(through version: Int64) throws(DocumentError) -> Int {
        guard let connection else { throw .closed }
        do {
            return try connection.transaction { () throws(SQLiteError) in
                try connection.withStatement("DELETE FROM outbox WHERE version <= ?1") { statement throws(SQLiteError) in
                    try statement.bind(version, at: 1)
                    _ = try statement.step()
                }
                return connection.changes
            }
        } catch {
            throw .storage(error)
        }
    }

    private static func currentVersion(_ connection: SQLiteConnection) throws(SQLiteError) -> Int64 {
        try connection.withStatement("SELECT version FROM data_version WHERE id = 1") { statement throws(SQLiteError) in
            try statement.step() ? statement.int64(at: 0) : 0
        }
    }

    /// Applies the full-text index changes of a batch, in write order.
    private static func updateIndex(_ changes: [IndexChange], connection: SQLiteConnection) throws(SQLiteError) {
        for change in changes {
            let (sql, key, body) =
                switch change {
                case .add(let key, let body): (indexAddSQL, key, body)
                case .remove(let key, let body): (indexRemoveSQL, key, body)
                }
            try connection.withStatement(sql) { statement throws(SQLiteError) in
                try statement.bind(key, at: 1)
                try statement.bind(body, at: 2)
                _ = try statement.step()
            }
        }
    }

    /// Applies one write's rows as data version `version`, or explains why it cannot be applied.
    private static func apply(
        _ write: PreparedWrite, version: Int64, now: Int64, connection: SQLiteConnection
    ) -> Result<AppliedWrite, DocumentError> {
        do {
            switch write {
            case .put(let collection, let id, let body, let ifVersion, let owner):
                let existing = try existingRow(collection: collection, id: id, connection: connection)
                if let ifVersion, ifVersion != (existing?.version ?? 0) {
                    return .failure(
                        .conflict(collection: collection, id: id, expected: ifVersion, actual: existing?.version))
                }
                let outcome: WriteOutcome
                let indexChanges: [IndexChange]
                if let existing {
                    try connection.withStatement(updateSQL) { statement throws(SQLiteError) in
                        try statement.bind(body, at: 1)
                        try statement.bind(version, at: 2)
                        try statement.bind(now, at: 3)
                        try statement.bind(existing.key, at: 4)
                        _ = try statement.step()
                    }
                    outcome = .replaced(
                        Document(
                            collection: collection, id: id, body: body, version: version,
                            createdAt: existing.createdAt, updatedAt: now, owner: existing.owner
                        ))
                    indexChanges = [.remove(key: existing.key, body: existing.body), .add(key: existing.key, body: body)]
                } else {
                    try connection.withStatement(insertSQL) { statement throws(SQLiteError) in
                        try statement.bind(collection, at: 1)
                        try statement.bind(id, at: 2)
                        try statement.bind(body, at: 3)
                        try statement.bind(version, at: 4)
                        try statement.bind(now, at: 5)
                        try statement.bind(owner, at: 6)
                        _ = try statement.step()
                    }
                    outcome = .created(
                        Document(
                            collection: collection, id: id, body: body, version: version,
                            createdAt: now, updatedAt: now, owner: owner
                        ))
                    indexChanges = [.add(key: connection.lastInsertRowID, body: body)]
                }
                try recordEvent(version: version, collection: collection, id: id, kind: .put, now: now, connection: connection)
                return .success(AppliedWrite(outcome: outcome, indexChanges: indexChanges))

            case .delete(let collection, let id, let ifVersion):
                guard let existing = try existingRow(collection: collection, id: id, connection: connection) else {
                    return .failure(.notFound(collection: collection, id: id))
                }
                if let ifVersion, ifVersion != existing.version {
                    return .failure(
                        .conflict(collection: collection, id: id, expected: ifVersion, actual: existing.version))
                }
                try connection.withStatement("DELETE FROM documents WHERE doc_key = ?1") { statement throws(SQLiteError) in
                    try statement.bind(existing.key, at: 1)
                    _ = try statement.step()
                }
                try recordEvent(version: version, collection: collection, id: id, kind: .delete, now: now, connection: connection)
                return .success(
                    AppliedWrite(
                        outcome: .deleted(collection: collection, id: id, version: version),
                        indexChanges: [.remove(key: existing.key, body: existing.body)]
                    ))
            }
        } catch {
            return .failure(.storage(error))
        }
    }

    private static func existingRow(
        collection: String, id: String, connection: SQLiteConnection
    ) throws(SQLiteError) -> ExistingRow? {
        try connection.withStatement(lookupSQL) { statement throws(SQLiteError) in
            try statement.bind(collection, at: 1)
            try statement.bind(id, at: 2)
            guard try statement.step() else { return nil }
            return ExistingRow(
                key: statement.int64(at: 0), version: statement.int64(at: 1),
                createdAt: statement.int64(at: 2), owner: statement.optionalString(at: 3),
                body: statement.string(at: 4)
            )
        }
    }

    private static func recordEvent(
        version: Int64, collection: String, id: String, kind: InvalidationMessage.Event.Kind, now: Int64,
        connection: SQLiteConnection
    ) throws(SQLiteError) {
        try connection.withStatement(outboxSQL) { statement throws(SQLiteError) in
            try statement.bind(version, at: 1)
            try statement.bind(collection, at: 2)
            try statement.bind(id, at: 3)
            try statement.bind(kind.rawValue, at: 4)
            try statement.bind(now, at: 5)
            _ = try statement.step()
        }
    }

    private static let lookupSQL = """
        SELECT doc_key, version, created_at, owner, body FROM documents WHERE collection = ?1 AND id = ?2
        """
    private static let insertSQL = """
        INSERT INTO documents (collection, id, body, version, created_at, updated_at, owner)
        VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
        """
    private static let updateSQL = """
        UPDATE documents SET body = ?1, version = ?2, updated_at = ?3 WHERE doc_key = ?4
        """
    private static let indexAddSQL = """
        INSERT INTO documents_fts (rowid, body) VALUES (?1, ?2)
        """
    private static let indexRemoveSQL = """
        INSERT INTO documents_fts (documents_fts, rowid, body) VALUES ('delete', ?1, ?2)
        """
    private static let outboxSQL = """
        INSERT INTO outbox (version, collection, id, kind, committed_at) VALUES (?1, ?2, ?3, ?4, ?5)
        """
}
