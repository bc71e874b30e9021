import GatehouseSQLite

/// Why a document operation failed.
package enum DocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A collection name, document id or cursor breaks the ``DocumentName`` rules.
    case invalidName(field: String, value: String, reason: String)
    /// A parameter other than a name is out of range, for example `limit`, `ifVersion` or `q`.
    case invalidArgument(field: String, value: String, reason: String)
    /// The body is not the text of a JSON object; `reason` says what it is instead.
    case bodyNotObject(reason: String)
    /// The body is larger than the configured limit.
    case bodyTooLarge(size: Int, limit: Int)
    /// The document does not exist.
    case notFound(collection: String, id: String)
    /// The document's version is not the one the write required; `actual` is nil when it does not exist.
    case conflict(collection: String, id: String, expected: Int64, actual: Int64?)
    /// The write queue already holds `limit` writes; retry later.
    case overloaded(limit: Int)
    /// The database failed; the write, if any, was not applied.
    case storage(SQLiteError)
    /// The database was written by newer code and is not opened.
    case schemaTooNew(databaseVersion: Int, latestKnownVersion: Int)
    /// The store was closed.
    case closed

    /// A one-line explanation naming the field or document involved.
    package var description: String {
        switch self {
        case .invalidName(let field, let value, let reason):
            "invalid \(field) \"\(value)\": \(reason)"
        case .invalidArgument(let field, let value, let reason):
            "invalid \(field) \"\(value)\": \(reason)"
        case .bodyNotObject(let reason):
            "invalid body: must be a JSON object, \(reason)"
        case .bodyTooLarge(let size, let limit):
            "invalid body: \(size) bytes is larger than the limit of \(limit) bytes"
        case .notFound(let collection, let id):
            "document \(collection)/\(id) not found"
        case .conflict(let collection, let id, let expected, let actual):
            if expected == 0 {
                "conflict on \(collection)/\(id): ifVersion 0 requires that it does not exist, "
                    + "but it exists at version \(actual.map(String.init) ?? "?")"
            } else if let actual {
                "conflict on \(collection)/\(id): ifVersion is \(expected) but the current version is \(actual)"
            } else {
                "conflict on \(collection)/\(id): ifVersion is \(expected) but the document does not exist"
            }
        case .overloaded(let limit):
            "overloaded: \(limit) writes are already queued; retry later"
        case .storage(let error):
            "storage failure: \(error)"
        case .schemaTooNew(let databaseVersion, let latestKnownVersion):
            "the database has schema version \(databaseVersion), newer than this service knows "
                + "(\(latestKnownVersion)); upgrade the service"
        case .closed:
            "the document store is closed"
        }
    }
}
