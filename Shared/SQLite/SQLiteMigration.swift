/// One step of a database schema, identified by the `PRAGMA user_version` it leads to.
public struct SQLiteMigration: Sendable {
    /// The schema version after this migration; versions count up from 1 without gaps.
    public let version: Int
    /// The SQL that changes the schema from `version - 1` to `version`; it may hold several statements.
    public let sql: String

    /// Creates a migration.
    /// - Parameters:
    ///   - version: The schema version this migration produces, starting at 1.
    ///   - sql: Semicolon-separated SQL run inside the migration's transaction.
    public init(version: Int, sql: String) {
        self.version = version
        self.sql = sql
    }
}
