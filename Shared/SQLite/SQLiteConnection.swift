import CSQLite

/// One SQLite database connection with a cache of prepared statements.
///
/// A connection is not `Sendable`: one actor or thread owns it and makes every call. Writable
/// connections are set to WAL journaling with `synchronous=NORMAL`; every connection gets a busy
/// timeout and `foreign_keys=ON`. Closing happens in ``close()`` or, at the latest, in `deinit`.
public final class SQLiteConnection {
    /// The database file path given to ``init(path:readOnly:busyTimeout:)``.
    public let path: String

    private var database: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    /// Frames in the write-ahead log after this connection's last commit, kept by the WAL hook that
    /// ``deferCheckpoints()`` installs; nil while SQLite checkpoints on its own.
    private var walFrames: UnsafeMutablePointer<Int32>?

    /// Opens (and for a writable connection, creates) a database file and configures it.
    /// - Parameters:
    ///   - path: The database file path.
    ///   - readOnly: Opens with `SQLITE_OPEN_READONLY`; the file must already exist.
    ///   - busyTimeout: How long a call waits for another connection's lock before `SQLITE_BUSY`.
    /// - Throws: ``SQLiteError`` when the file cannot be opened or configured.
    public init(path: String, readOnly: Bool = false, busyTimeout: Duration = .seconds(5)) throws(SQLiteError) {
        self.path = path
        // NOMUTEX: the owner serialises all calls, so SQLite's per-connection mutex is pure cost.
        let access = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let flags = access | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        var handle: OpaquePointer?
        let resultCode = sqlite3_open_v2(path, &handle, flags, nil)
        guard resultCode == SQLITE_OK, let handle else {
            let error = SQLiteError(database: handle, resultCode: resultCode, sql: nil)
            sqlite3_close_v2(handle)
            throw SQLiteError(extendedCode: error.extendedCode, message: "cannot open \(path): \(error.message)")
        }
        database = handle
        sqlite3_extended_result_codes(handle, 1)
        let milliseconds = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        sqlite3_busy_timeout(handle, Int32(clamping: milliseconds))
        if !readOnly {
            try execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        }
        try execute("PRAGMA foreign_keys = ON;")
    }

    deinit {
        close()
    }

    /// Finalizes every cached statement and closes the connection; later calls throw `SQLITE_MISUSE`.
    public func close() {
        for statement in statements.values {
            sqlite3_finalize(statement)
        }
        statements.removeAll()
        sqlite3_close_v2(database)
        database = nil
        walFrames?.deallocate()
        walFrames = nil
    }

    /// Takes WAL checkpoints out of COMMIT. SQLite's automatic checkpoint runs inside the COMMIT that takes
    /// the log past 1,000 pages, so that commit's caller waits for pages to be copied into the database
    /// file (milliseconds). Afterwards SQLite no longer checkpoints for this connection; its owner calls
    /// ``checkpointIfLogExceeds(pages:)`` once the commit's results are handed out.
    public func deferCheckpoints() {
        guard let database, walFrames == nil else { return }
        let frames = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        frames.initialize(to: 0)
        walFrames = frames
        // Replaces SQLite's own hook (the automatic checkpoint): only records the log's size.
        sqlite3_wal_hook(
            database,
            { context, _, _, frames in
                context?.assumingMemoryBound(to: Int32.self).pointee = frames
                return SQLITE_OK
            },
            frames
        )
    }

    /// After ``deferCheckpoints()``: runs a passive checkpoint (it never waits for readers) when the
    /// write-ahead log holds at least `pages` frames, as SQLite's automatic checkpoint would have.
    /// - Parameter pages: The log size that calls for a checkpoint; SQLite's default is 1,000.
    /// - Throws: ``SQLiteError`` when the checkpoint fails.
    public func checkpointIfLogExceeds(pages: Int32 = 1000) throws(SQLiteError) {
        guard let walFrames, walFrames.pointee >= pages else { return }
        walFrames.pointee = 0
        try execute("PRAGMA wal_checkpoint(PASSIVE);")
    }

    /// The number of rows changed by the most recent INSERT, UPDATE or DELETE.
    public var changes: Int {
        database.map { Int(sqlite3_changes64($0)) } ?? 0
    }

    /// The rowid of the most recent successful INSERT into a rowid table.
    public var lastInsertRowID: Int64 {
        database.map { sqlite3_last_insert_rowid($0) } ?? 0
    }

    /// Runs one or more SQL statements without a cached statement or parameters (schema, pragmas).
    /// - Parameter sql: Semicolon-separated SQL.
    /// - Throws: ``SQLiteError`` naming the SQL when any statement fails.
    public func execute(_ sql: String) throws(SQLiteError) {
        guard let database else { throw .closedConnection(sql: sql) }
        let resultCode = sqlite3_exec(database, sql, nil, nil, nil)
        guard resultCode == SQLITE_OK else {
            throw SQLiteError(database: database, resultCode: resultCode, sql: sql)
        }
    }

    /// Lends the cached prepared statement for `sql`, preparing it on first use.
    ///
    /// The statement is reset and its bindings cleared when `body` returns or throws, so an
    /// unfinished read never keeps a snapshot open.
    /// - Parameters:
    ///   - sql: One SQL statement; its exact text is the cache key.
    ///   - body: Binds, steps and reads the statement.
    /// - Returns: What `body` returns.
    /// - Throws: ``SQLiteError`` from preparation or from `body`.
    public func withStatement<Value>(
        _ sql: String,
        _ body: (SQLiteStatement) throws(SQLiteError) -> Value
    ) throws(SQLiteError) -> Value {
        let statement = SQLiteStatement(handle: try cachedStatement(sql))
        defer {
            statement.reset()
            statement.clearBindings()
        }
        return try body(statement)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`, rolling back when `body` or the commit fails.
    /// - Parameter body: The work of the transaction.
    /// - Returns: What `body` returns.
    /// - Throws: ``SQLiteError`` from BEGIN, `body` or COMMIT; the transaction is rolled back.
    public func transaction<Value>(_ body: () throws(SQLiteError) -> Value) throws(SQLiteError) -> Value {
        try run("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            rollbackIfActive()
            throw error
        }
    }

    /// Runs `body` inside a SAVEPOINT, keeping its changes on success and undoing them on failure.
    ///
    /// Inside a transaction this lets one piece of work fail without aborting the rest.
    /// - Parameter body: The work; a `.failure` result rolls the savepoint back.
    /// - Returns: What `body` returns.
    /// - Throws: ``SQLiteError`` when the SAVEPOINT, ROLLBACK TO or RELEASE statement fails.
    public func withSavepoint<Success, Failure: Error>(
        _ body: () -> Result<Success, Failure>
    ) throws(SQLiteError) -> Result<Success, Failure> {
        try run("SAVEPOINT gatehouse")
        let result = body()
        if case .failure = result {
            try run("ROLLBACK TO gatehouse")
        }
        try run("RELEASE gatehouse")
        return result
    }

    /// Writes a consistent copy of the database to a new file with `VACUUM INTO`.
    ///
    /// The copy is one read snapshot, so writers on other connections go on while it runs; the
    /// copy is compacted and does not need the WAL file.
    /// - Parameter destination: The path of the copy; it must not exist or must be empty.
    /// - Throws: ``SQLiteError`` when the copy cannot be written.
    public func backup(to destination: String) throws(SQLiteError) {
        try withStatement("VACUUM INTO ?1") { statement throws(SQLiteError) in
            try statement.bind(destination, at: 1)
            _ = try statement.step()
        }
    }

    /// Steps a cached statement without parameters to completion.
    private func run(_ sql: String) throws(SQLiteError) {
        try withStatement(sql) { statement throws(SQLiteError) in
            while try statement.step() {}
        }
    }

    private func rollbackIfActive() {
        guard let database, sqlite3_get_autocommit(database) == 0 else { return }
        // A failed ROLLBACK leaves nothing better to do than report the original error.
        try? run("ROLLBACK")
    }

    private func cachedStatement(_ sql: String) throws(SQLiteError) -> OpaquePointer {
        if let statement = statements[sql] {
            return statement
        }
        guard let database else { throw .closedConnection(sql: sql) }
        var statement: OpaquePointer?
        let resultCode = sqlite3_prepare_v3(
            database, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil
        )
        guard resultCode == SQLITE_OK, let statement else {
            throw SQLiteError(database: database, resultCode: resultCode, sql: sql)
        }
        statements[sql] = statement
        return statement
    }
}
