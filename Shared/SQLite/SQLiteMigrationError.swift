/// Why ``SQLiteMigrator`` could not bring a database to the schema the code expects.
public enum SQLiteMigrationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The database was written by newer code: its `user_version` is above every known migration.
    case databaseNewerThanCode(path: String, databaseVersion: Int, latestKnownVersion: Int)
    /// A migration's SQL failed; its transaction was rolled back and the version left unchanged.
    case migrationFailed(version: Int, underlying: SQLiteError)
    /// Reading or recording the schema version failed.
    case sqlite(SQLiteError)

    /// A one-line explanation naming the database and the versions involved.
    public var description: String {
        switch self {
        case .databaseNewerThanCode(let path, let databaseVersion, let latestKnownVersion):
            "database \(path) has schema version \(databaseVersion), newer than the latest version "
                + "this code knows (\(latestKnownVersion)); refusing to open it — upgrade the service"
        case .migrationFailed(let version, let underlying):
            "migration to schema version \(version) failed and was rolled back: \(underlying)"
        case .sqlite(let underlying):
            "cannot read or record the schema version: \(underlying)"
        }
    }
}
