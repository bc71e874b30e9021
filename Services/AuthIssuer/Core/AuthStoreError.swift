import GatehouseSQLite

/// Why the issuer's database refused an operation.
package struct AuthStoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for the operator or the CLI user.
    package let description: String

    init(_ description: String) {
        self.description = description
    }

    static func sqlite(_ error: SQLiteError) -> AuthStoreError {
        AuthStoreError("the auth database failed: \(error)")
    }

    static let closed = AuthStoreError("the auth database is closed")
}
