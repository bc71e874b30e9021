import Foundation
import GatehouseSQLite

/// The auth issuer's SQLite database: users, clients, signing keys, refresh tokens and revocations.
///
/// One connection on a thread of its own serialises every access, so each operation is one short
/// transaction and concurrent token requests never race: two presentations of the same refresh token
/// are decided one after the other. The file is created readable by its owner only (it holds private keys).
/// It runs in WAL mode with `synchronous=FULL`: a commit is on disk before any caller is answered.
/// The features live in `AuthStore+Users.swift`, `+Clients`, `+SigningKeys`, `+RefreshTokens` and
/// `+Revocations`.
package actor AuthStore {
    private let executor: DedicatedThreadExecutor
    private var connection: SQLiteConnection?

    /// The actor runs on its own thread, so SQLite's blocking calls never occupy the cooperative pool.
    package nonisolated var unownedExecutor: UnownedSerialExecutor {
        self.executor.asUnownedSerialExecutor()
    }

    /// Opens (creating when needed) and migrates the database.
    /// - Parameter path: The database file; its folder is created with mode 0700, the file with 0600.
    /// - Throws: ``AuthStoreError`` when the file cannot be created, opened or migrated.
    package init(path: String) async throws {
        self.executor = DedicatedThreadExecutor(name: "gatehouse-auth-sqlite")
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            if !FileManager.default.fileExists(atPath: folder) {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw AuthStoreError("cannot create \(path)")
                }
            }
        } catch let error as AuthStoreError {
            throw error
        } catch {
            throw AuthStoreError("cannot create \(path): \(error.localizedDescription)")
        }
        try self.open(path: path)
    }

    private func open(path: String) throws {
        do {
            let connection = try SQLiteConnection(path: path, busyTimeout: .seconds(5))
            // Every commit is synced to disk before it is acknowledged (WAL + FULL syncs the log on each
            // commit): a revocation or key rotation that was answered survives a power loss, and its
            // version is never handed out twice.
            try connection.execute("PRAGMA synchronous = FULL;")
            try AuthSchema.migrator.migrate(connection)
            self.connection = connection
        } catch let error as SQLiteError {
            throw AuthStoreError.sqlite(error)
        } catch {
            throw AuthStoreError("cannot open \(path): \(error)")
        }
    }

    /// The connection's `PRAGMA synchronous` setting as SQLite names it (`off`, `normal`, `full`, `extra`):
    /// `full` once open, so every acknowledged commit is on disk.
    package func synchronousSetting() throws(AuthStoreError) -> String {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement("PRAGMA synchronous") { statement throws(SQLiteError) in
                _ = try statement.step()
                return ["off", "normal", "full", "extra"][Int(clamping: min(3, max(0, statement.int64(at: 0))))]
            }
        }
    }

    /// Closes the connection; later calls fail.
    package func close() {
        self.connection?.close()
        self.connection = nil
    }

    /// Runs `body` on the open connection, mapping SQLite failures to ``AuthStoreError``.
    func run<Value>(_ body: (SQLiteConnection) throws(SQLiteError) -> Value) throws(AuthStoreError) -> Value {
        guard let connection = self.connection else { throw .closed }
        do {
            return try body(connection)
        } catch {
            throw .sqlite(error)
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction.
    func transaction<Value>(_ body: (SQLiteConnection) throws(SQLiteError) -> Value) throws(AuthStoreError) -> Value {
        try self.run { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in try body(connection) }
        }
    }
}

extension SQLiteConnection {
    /// Increases a row of `counters` by one and returns the new value.
    func incrementCounter(_ name: String) throws(SQLiteError) -> Int64 {
        try self.withStatement("UPDATE counters SET value = value + 1 WHERE name = ?1 RETURNING value") { statement throws(SQLiteError) in
            try statement.bind(name, at: 1)
            _ = try statement.step()
            return statement.int64(at: 0)
        }
    }

    /// The value of a row of `counters`.
    func counter(_ name: String) throws(SQLiteError) -> Int64 {
        try self.withStatement("SELECT value FROM counters WHERE name = ?1") { statement throws(SQLiteError) in
            try statement.bind(name, at: 1)
            return try statement.step() ? statement.int64(at: 0) : 0
        }
    }
}

extension SQLiteStatement {
    /// Binds an optional integer, NULL for `nil`.
    func bind(_ value: Int64?, at index: Int32) throws(SQLiteError) {
        if let value { try self.bind(value, at: index) } else { try self.bindNull(at: index) }
    }

    /// The integer in a column, `nil` for NULL.
    func optionalInt64(at column: Int32) -> Int64? {
        self.isNull(at: column) ? nil : self.int64(at: column)
    }
}

/// Milliseconds since the Unix epoch.
func epochMilliseconds(_ date: Date) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
}

/// Whole seconds since the Unix epoch.
func epochSeconds(_ date: Date) -> Int64 {
    Int64(date.timeIntervalSince1970.rounded(.down))
}

/// Whole milliseconds of a duration.
func milliseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
}
