import CSQLite

/// A prepared statement borrowed from a ``SQLiteConnection``'s cache.
///
/// Parameter and column indices follow SQLite: parameters count from 1, columns from 0.
/// A statement is only valid inside the ``SQLiteConnection/withStatement(_:_:)`` call that
/// handed it out; the connection resets it and clears its bindings afterwards.
public struct SQLiteStatement {
    /// The `sqlite3_stmt` handle, owned by the connection's cache.
    let handle: OpaquePointer

    /// SQLite's `SQLITE_TRANSIENT`: SQLite copies bound text and blobs before the call returns.
    private static var transient: sqlite3_destructor_type {
        unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    }

    init(handle: OpaquePointer) {
        self.handle = handle
    }

    private func check(_ resultCode: Int32) throws(SQLiteError) {
        guard resultCode == SQLITE_OK else {
            throw SQLiteError(statement: handle, resultCode: resultCode)
        }
    }

    /// Binds a 64-bit integer.
    /// - Parameters:
    ///   - value: The integer to bind.
    ///   - index: The 1-based parameter index.
    /// - Throws: ``SQLiteError`` when the index is out of range.
    public func bind(_ value: Int64, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    /// Binds a double.
    /// - Parameters:
    ///   - value: The floating-point value to bind.
    ///   - index: The 1-based parameter index.
    /// - Throws: ``SQLiteError`` when the index is out of range.
    public func bind(_ value: Double, at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_double(handle, index, value))
    }

    /// Binds UTF-8 text; SQLite copies it (`SQLITE_TRANSIENT`).
    /// - Parameters:
    ///   - value: The text to bind; an empty string binds empty text, not NULL.
    ///   - index: The 1-based parameter index.
    /// - Throws: ``SQLiteError`` when the index is out of range or the text is too long.
    public func bind(_ value: String, at index: Int32) throws(SQLiteError) {
        var text = value
        let resultCode = text.withUTF8 { bytes in
            // A nil base address would bind NULL, so empty text gets a static empty C string.
            guard let base = bytes.baseAddress else {
                return sqlite3_bind_text(handle, index, "", 0, Self.transient)
            }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, index, $0, Int32(bytes.count), Self.transient)
            }
        }
        try check(resultCode)
    }

    /// Binds text, or NULL when the value is nil.
    /// - Parameters:
    ///   - value: The text to bind, or nil for NULL.
    ///   - index: The 1-based parameter index.
    /// - Throws: ``SQLiteError`` when the index is out of range.
    public func bind(_ value: String?, at index: Int32) throws(SQLiteError) {
        if let value {
            try bind(value, at: index)
        } else {
            try bindNull(at: index)
        }
    }

    /// Binds a blob; SQLite copies the bytes (`SQLITE_TRANSIENT`).
    /// - Parameters:
    ///   - bytes: The bytes to bind; an empty array binds a zero-length blob.
    ///   - index: The 1-based parameter index.
    /// - Throws: ``SQLiteError`` when the index is out of range or the blob is too long.
    public func bind(blob bytes: [UInt8], at index: Int32) throws(SQLiteError) {
        let resultCode = bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else {
                return sqlite3_bind_zeroblob(handle, index, 0)
            }
            return sqlite3_bind_blob(handle, index, base, Int32(buffer.count), Self.transient)
        }
        try check(resultCode)
    }

    /// Binds NULL.
    /// - Parameter index: The 1-based parameter index.
    /// - Throws: ``SQLiteError`` when the index is out of range.
    public func bindNull(at index: Int32) throws(SQLiteError) {
        try check(sqlite3_bind_null(handle, index))
    }

    /// Runs the statement to its next row.
    /// - Returns: True when a row is available through the column accessors, false when done.
    /// - Throws: ``SQLiteError`` with SQLite's code and message, for example a constraint failure.
    public func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let resultCode: throw SQLiteError(statement: handle, resultCode: resultCode)
        }
    }

    /// Resets the statement so it can run again; bindings are kept.
    public func reset() {
        // sqlite3_reset repeats the error of the last step, which step() already reported.
        sqlite3_reset(handle)
    }

    /// Sets every parameter back to NULL.
    public func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    /// True when the column of the current row is NULL.
    /// - Parameter column: The 0-based column index.
    /// - Returns: Whether the value is NULL.
    public func isNull(at column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }

    /// Reads a column as a 64-bit integer (NULL reads as 0).
    /// - Parameter column: The 0-based column index.
    /// - Returns: The integer value.
    public func int64(at column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    /// Reads a column as a double (NULL reads as 0).
    /// - Parameter column: The 0-based column index.
    /// - Returns: The floating-point value.
    public func double(at column: Int32) -> Double {
        sqlite3_column_double(handle, column)
    }

    /// Reads a column as text (NULL reads as the empty string).
    /// - Parameter column: The 0-based column index.
    /// - Returns: The text, decoded as UTF-8 with invalid bytes replaced.
    public func string(at column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// Reads a column as text, or nil when it is NULL.
    /// - Parameter column: The 0-based column index.
    /// - Returns: The text, or nil.
    public func optionalString(at column: Int32) -> String? {
        isNull(at: column) ? nil : string(at: column)
    }

    /// Reads a column as bytes (NULL reads as no bytes).
    /// - Parameter column: The 0-based column index.
    /// - Returns: A copy of the blob.
    public func blob(at column: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}
