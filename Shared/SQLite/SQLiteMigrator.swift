/// Brings a database to the latest schema by running numbered migrations at start-up.
///
/// The schema version lives in `PRAGMA user_version`. Each pending migration runs in its own
/// `BEGIN IMMEDIATE` transaction together with the update of `user_version`, so a crash or a
/// failing migration leaves the database at the previous version. A database whose version is
/// above the latest known migration is refused rather than touched.
public struct SQLiteMigrator: Sendable {
    /// The migrations, ordered by version 1, 2, 3, …
    public let migrations: [SQLiteMigration]

    /// The schema version the code expects after migrating.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Creates a migrator.
    /// - Parameter migrations: Migrations with versions exactly 1, 2, 3, … in this order; anything
    ///   else is a programming error and stops the process.
    public init(_ migrations: [SQLiteMigration]) {
        for (offset, migration) in migrations.enumerated() {
            precondition(
                migration.version == offset + 1,
                "migration versions must be 1, 2, 3, … in order; found \(migration.version) at position \(offset + 1)"
            )
        }
        self.migrations = migrations
    }

    /// Runs every migration newer than the database's `user_version`.
    /// - Parameter connection: A writable connection.
    /// - Returns: The versions applied, in order; empty when the database was already current.
    /// - Throws: ``SQLiteMigrationError`` when the database is newer than the code or a step fails.
    @discardableResult
    public func migrate(_ connection: SQLiteConnection) throws(SQLiteMigrationError) -> [Int] {
        let current: Int
        do {
            current = try Self.userVersion(connection)
        } catch {
            throw .sqlite(error)
        }
        guard current <= latestVersion else {
            throw .databaseNewerThanCode(
                path: connection.path, databaseVersion: current, latestKnownVersion: latestVersion
            )
        }
        var applied: [Int] = []
        for migration in migrations where migration.version > current {
            do {
                let ran = try connection.transaction { () throws(SQLiteError) -> Bool in
                    // Another process may have migrated since the check above; the lock is ours now.
                    guard try Self.userVersion(connection) < migration.version else { return false }
                    try connection.execute(migration.sql)
                    try connection.execute("PRAGMA user_version = \(migration.version)")
                    return true
                }
                if ran { applied.append(migration.version) }
            } catch {
                throw .migrationFailed(version: migration.version, underlying: error)
            }
        }
        return applied
    }

    private static func userVersion(_ connection: SQLiteConnection) throws(SQLiteError) -> Int {
        try connection.withStatement("PRAGMA user_version") { statement throws(SQLiteError) in
            _ = try statement.step()
            return Int(statement.int64(at: 0))
        }
    }
}
