import GatehouseTestSupport
import Foundation
import GatehouseSQLite
import Testing

@Suite struct SQLiteConnectionTests {
    @Test func newConnectionUsesWALAndForeignKeys() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            let mode = try connection.withStatement("PRAGMA journal_mode") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.string(at: 0)
            }
            let foreignKeys = try connection.withStatement("PRAGMA foreign_keys") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.int64(at: 0)
            }
            let synchronous = try connection.withStatement("PRAGMA synchronous") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.int64(at: 0)
            }
            #expect(mode == "wal")
            #expect(foreignKeys == 1)
            #expect(synchronous == 1)  // NORMAL
        }
    }

    @Test func deferredCheckpointsLeaveTheCommitsAloneAndRunWhenAsked() async throws {
        try await withTemporaryDirectory { directory in
            /// Writes 1,500 rows of 4 KiB, one transaction each: more than 1,000 pages of log.
            func fill(_ connection: SQLiteConnection) throws {
                try connection.execute("CREATE TABLE t (body BLOB)")
                for _ in 0..<1500 {
                    try connection.transaction { () throws(SQLiteError) in
                        try connection.execute("INSERT INTO t VALUES (zeroblob(4096))")
                    }
                }
            }
            func size(_ path: String) throws -> Int {
                (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            }
            // SQLite's own automatic checkpoint: the rows reach the database file inside the commits.
            let automatic = try SQLiteConnection(path: "\(directory)/automatic.sqlite")
            try fill(automatic)
            #expect(try size("\(directory)/automatic.sqlite") > 4 << 20)

            let deferred = try SQLiteConnection(path: "\(directory)/deferred.sqlite")
            deferred.deferCheckpoints()
            try fill(deferred)
            // No commit copied anything: the rows are all still in the log.
            #expect(try size("\(directory)/deferred.sqlite") < 1 << 20)
            #expect(try size("\(directory)/deferred.sqlite-wal") > 6 << 20)
            try deferred.checkpointIfLogExceeds(pages: 1_000_000)
            #expect(try size("\(directory)/deferred.sqlite") < 1 << 20)
            try deferred.checkpointIfLogExceeds()
            #expect(try size("\(directory)/deferred.sqlite") > 6 << 20)
            let count = try deferred.withStatement("SELECT count(*) FROM t") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.int64(at: 0)
            }
            #expect(count == 1500)
        }
    }

    @Test func everyTypeRoundTrips() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            try connection.execute("CREATE TABLE t (i INTEGER, d REAL, s TEXT, e TEXT, b BLOB, eb BLOB, n TEXT, o TEXT)")
            try connection.withStatement("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)") { statement throws(SQLiteError) in
                try statement.bind(Int64.min, at: 1)
                try statement.bind(3.25, at: 2)
                try statement.bind("héllo \u{1F600} \"quoted\"", at: 3)
                try statement.bind("", at: 4)
                try statement.bind(blob: [0, 1, 2, 255], at: 5)
                try statement.bind(blob: [], at: 6)
                try statement.bindNull(at: 7)
                try statement.bind(Optional<String>.none, at: 8)
                #expect(try statement.step() == false)
            }
            try connection.withStatement("SELECT i, d, s, e, b, eb, n, o, typeof(e), typeof(eb) FROM t") { statement throws(SQLiteError) in
                #expect(try statement.step())
                #expect(statement.int64(at: 0) == Int64.min)
                #expect(statement.double(at: 1) == 3.25)
                #expect(statement.string(at: 2) == "héllo \u{1F600} \"quoted\"")
                #expect(statement.optionalString(at: 3) == "")
                #expect(statement.blob(at: 4) == [0, 1, 2, 255])
                #expect(statement.blob(at: 5) == [])
                #expect(statement.isNull(at: 6))
                #expect(statement.optionalString(at: 7) == nil)
                #expect(statement.string(at: 8) == "text")
                #expect(statement.string(at: 9) == "blob")
                #expect(try statement.step() == false)
            }
        }
    }

    @Test func statementIsResetAfterUseEvenWhenRowsAreLeft() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            try connection.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            for _ in 0..<3 {
                // Reads one row of three and leaves; the cached statement must be reset.
                let first = try connection.withStatement("SELECT x FROM t ORDER BY x") { statement throws(SQLiteError) in
                    _ = try statement.step()
                    return statement.int64(at: 0)
                }
                #expect(first == 1)
            }
            // DROP fails with SQLITE_LOCKED while any statement on the table is still running.
            try connection.execute("DROP TABLE t")
        }
    }

    @Test func errorsCarryCodesMessageAndSQL() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            let syntax = #expect(throws: SQLiteError.self) {
                try connection.withStatement("SELEC nonsense") { _ throws(SQLiteError) in }
            }
            #expect(syntax?.code == 1)
            #expect(syntax?.message.contains("syntax error") == true)
            #expect(syntax?.sql == "SELEC nonsense")
            #expect(syntax?.description.contains("SELEC nonsense") == true)

            try connection.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            let insert = "INSERT INTO t VALUES (?1)"
            try connection.withStatement(insert) { statement throws(SQLiteError) in
                try statement.bind(Int64(7), at: 1)
                _ = try statement.step()
            }
            let duplicate = #expect(throws: SQLiteError.self) {
                try connection.withStatement(insert) { statement throws(SQLiteError) in
                    try statement.bind(Int64(7), at: 1)
                    _ = try statement.step()
                }
            }
            #expect(duplicate?.code == 19)  // SQLITE_CONSTRAINT
            #expect(duplicate?.extendedCode == 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
            #expect(duplicate?.sql == insert)
            #expect(duplicate?.description.contains("UNIQUE constraint failed: t.x") == true)

            let range = #expect(throws: SQLiteError.self) {
                try connection.withStatement(insert) { statement throws(SQLiteError) in
                    try statement.bind(Int64(1), at: 2)
                }
            }
            #expect(range?.code == 25)  // SQLITE_RANGE

            connection.close()
            let closed = #expect(throws: SQLiteError.self) { try connection.execute("SELECT 1") }
            #expect(closed?.code == 21)  // SQLITE_MISUSE
        }
    }

    @Test func transactionCommitsOrRollsBackWhole() async throws {
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            try connection.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT UNIQUE)")
            let insert = "INSERT INTO t (v) VALUES (?1)"
            let rowID = try connection.transaction { () throws(SQLiteError) -> Int64 in
                try connection.withStatement(insert) { statement throws(SQLiteError) in
                    try statement.bind("a", at: 1)
                    _ = try statement.step()
                }
                #expect(connection.changes == 1)
                return connection.lastInsertRowID
            }
            #expect(rowID == 1)

            #expect(throws: SQLiteError.self) {
                try connection.transaction { () throws(SQLiteError) in
                    for value in ["b", "a"] {  // "a" violates UNIQUE: "b" must be rolled back too
                        try connection.withStatement(insert) { statement throws(SQLiteError) in
                            try statement.bind(value, at: 1)
                            _ = try statement.step()
                        }
                    }
                }
            }
            let values = try connection.withStatement("SELECT group_concat(v) FROM t") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.string(at: 0)
            }
            #expect(values == "a")
            // The connection is usable again: no transaction was left open.
            try connection.transaction { () throws(SQLiteError) in
                try connection.execute("DELETE FROM t")
            }
            #expect(connection.changes == 1)
        }
    }

    @Test func failedSavepointUndoesOnlyItsOwnWork() async throws {
        struct Refused: Error {}
        try await withTemporaryDirectory { directory in
            let connection = try SQLiteConnection(path: "\(directory)/db.sqlite")
            try connection.execute("CREATE TABLE t (v TEXT)")
            func insert(_ value: String) -> Result<Void, Refused> {
                do {
                    try connection.execute("INSERT INTO t VALUES ('\(value)')")
                    return value.hasPrefix("bad") ? .failure(Refused()) : .success(())
                } catch {
                    return .failure(Refused())
                }
            }
            let outcomes = try connection.transaction { () throws(SQLiteError) -> [Bool] in
                var outcomes: [Bool] = []
                for value in ["one", "bad-two", "three"] {
                    let result = try connection.withSavepoint { insert(value) }
                    if case .success = result { outcomes.append(true) } else { outcomes.append(false) }
                }
                return outcomes
            }
            #expect(outcomes == [true, false, true])
            let values = try connection.withStatement("SELECT group_concat(v, ',') FROM t") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.string(at: 0)
            }
            #expect(values == "one,three")
        }
    }

    @Test func readOnlyConnectionRefusesWrites() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/db.sqlite"
            let writer = try SQLiteConnection(path: path)
            try writer.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42);")
            let reader = try SQLiteConnection(path: path, readOnly: true)
            let value = try reader.withStatement("SELECT x FROM t") { statement throws(SQLiteError) in
                _ = try statement.step()
                return statement.int64(at: 0)
            }
            #expect(value == 42)
            let error = #expect(throws: SQLiteError.self) { try reader.execute("INSERT INTO t VALUES (1)") }
            #expect(error?.code == 8)  // SQLITE_READONLY

            #expect(throws: SQLiteError.self) {
                try SQLiteConnection(path: "\(directory)/missing.sqlite", readOnly: true)
            }
        }
    }

    @Test func backupIsAConsistentCopyWhileAnotherConnectionWrites() async throws {
        try await withTemporaryDirectory { directory in
            let path = "\(directory)/db.sqlite"
            let setup = try SQLiteConnection(path: path)
            // Every transaction inserts a pair, so a consistent copy has an even row count.
            try setup.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, payload TEXT)")
            let writing = Task.detached {
                let writer = try SQLiteConnection(path: path)
                for pair in 0..<400 {
                    try writer.transaction { () throws(SQLiteError) in
                        try writer.execute("INSERT INTO t (payload) VALUES ('pair \(pair) a'), ('pair \(pair) b')")
                    }
                }
            }
            let reader = try SQLiteConnection(path: path, readOnly: true)
            var copies: [String] = []
            for index in 0..<5 {
                let copy = "\(directory)/copy-\(index).sqlite"
                try reader.backup(to: copy)
                copies.append(copy)
                try await Task.sleep(for: .milliseconds(2))
            }
            try await writing.value
            for copy in copies {
                let restored = try SQLiteConnection(path: copy, readOnly: true)
                let (count, integrity) = try restored.withStatement("SELECT (SELECT count(*) FROM t), (SELECT integrity_check FROM pragma_integrity_check)") {
                    statement throws(SQLiteError) in
                    _ = try statement.step()
                    return (statement.int64(at: 0), statement.string(at: 1))
                }
                #expect(count % 2 == 0)
                #expect(integrity == "ok")
            }
            let existing = #expect(throws: SQLiteError.self) { try reader.backup(to: copies[0]) }
            #expect(existing?.message.contains("already exists") == true)
        }
    }
}
