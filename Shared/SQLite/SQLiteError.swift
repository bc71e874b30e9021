import CSQLite

/// A failure reported by SQLite, with the codes, SQLite's message and the SQL that failed.
public struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The primary result code, for example `SQLITE_BUSY` (5) or `SQLITE_CONSTRAINT` (19).
    public let code: Int32
    /// The extended result code, for example `SQLITE_CONSTRAINT_UNIQUE` (2067).
    public let extendedCode: Int32
    /// SQLite's explanation of the failure.
    public let message: String
    /// The SQL text being prepared or run, when the failure came from a statement.
    public let sql: String?

    /// Creates an error from explicit values; the primary code is the extended code's low byte.
    init(extendedCode: Int32, message: String, sql: String? = nil) {
        self.code = extendedCode & 0xFF
        self.extendedCode = extendedCode
        self.message = message
        self.sql = sql
    }

    /// Reads the latest error of a connection.
    init(database: OpaquePointer?, resultCode: Int32, sql: String?) {
        let extended = database.map { sqlite3_extended_errcode($0) } ?? resultCode
        // The connection's error code can be stale when the failing call was not the last one.
        let chosen = (extended & 0xFF) == (resultCode & 0xFF) ? extended : resultCode
        let message = database.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(resultCode))
        self.init(extendedCode: chosen, message: message, sql: sql)
    }

    /// Reads the latest error of the connection that owns a statement.
    init(statement: OpaquePointer, resultCode: Int32) {
        self.init(
            database: sqlite3_db_handle(statement),
            resultCode: resultCode,
            sql: sqlite3_sql(statement).map { String(cString: $0) }
        )
    }

    /// The error used when a closed connection is asked to do work.
    static func closedConnection(sql: String?) -> SQLiteError {
        SQLiteError(extendedCode: SQLITE_MISUSE, message: "the connection is closed", sql: sql)
    }

    /// A one-line explanation naming the codes, SQLite's message and the SQL.
    public var description: String {
        let name = String(cString: sqlite3_errstr(extendedCode))
        var text = "SQLite error \(code)/\(extendedCode) (\(name)): \(message)"
        if let sql { text += " — while running: \(sql)" }
        return text
    }
}
