import GatehouseTestSupport
import Foundation
import GatehouseSQLite
import Testing

@Suite struct SQLiteMigratorTests {
    let migrator = SQLiteMigrator([
        SQLiteMigration(version: 1, sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"),
        SQLiteMigration(version: 2, sql: "ALTER TABLE notes ADD COLUMN author TEXT; CREATE INDEX notes_by_author ON notes (author);"),
    ])

    private func userVersion(_ connection: SQLiteConnection) throws -> Int64 {
        try connection.withStatement("PRAGMA user_version") { statement throws(SQLiteError) in
            _ = try statement.step()
            return statement.int64(at: 0)
        }
    }

    @Test func freshDatabaseGetsEveryMigrationAndReopeningIsANoOp() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/db.sqlite"
            let first = try SQLiteConnection(path: path)
            #expect(try migrator.migrate(first) == [1, 2])
            #expect(try userVersion(first) == 2)
            try first.execute("INSERT INTO notes (text, author) VALUES ('kept', 'me')")
            first.close()

            let second = try SQLiteConnection(path: path)
            #expect(try migrator.migrate(second) == [])
            let text = try second.withStatement("SELECT text FROM notes WHERE author = 'me'") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.string(at: 0)
            }
            #expect(text == "kept")
        }
    }

    @Test func databaseAtAnOlderVersionGetsOnlyTheNewerMigrations() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            try SQLiteMigrator(Array(migrator.migrations.prefix(1))).migrate(connection)
            #expect(try migrator.migrate(connection) == [2])
            #expect(try userVersion(connection) == 2)
        }
    }

    @Test func databaseNewerThanTheCodeIsRefusedUntouched() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/db.sqlite"
            let connection = try SQLiteConnection(path: path)
            try connection.execute("PRAGMA user_version = 7")
            let error = #expect(throws: SQLiteMigrationError.self) { try migrator.migrate(connection) }
            #expect(error == .databaseNewerThanCode(path: path, databaseVersion: 7, latestKnownVersion: 2))
            #expect(error?.description.contains("newer") == true)
            #expect(try userVersion(connection) == 7)
        }
    }

    @Test func failingMigrationIsRolledBackAndReported() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            let broken = SQLiteMigrator([
                migrator.migrations[0],
                SQLiteMigration(version: 2, sql: "CREATE TABLE extra (x INTEGER); INSERT INTO missing VALUES (1);"),
            ])
            let error = #expect(throws: SQLiteMigrationError.self) { try broken.migrate(connection) }
            guard case .migrationFailed(let version, let underlying) = error else {
                Issue.record("expected migrationFailed, got \(String(describing: error))")
                return
            }
            #expect(version == 2)
            #expect(underlying.message.contains("no such table: missing"))
            #expect(try userVersion(connection) == 1)
            // The table created before the failure in the same migration is gone.
            let tables = try connection.withStatement("SELECT count(*) FROM sqlite_schema WHERE name = 'extra'") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.int64(at: 0)
            }
            #expect(tables == 0)
        }
    }
}
