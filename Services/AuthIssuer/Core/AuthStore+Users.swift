import Foundation
import GatehouseSQLite

extension AuthStore {
    /// Adds a user.
    /// - Parameters:
    ///   - name: A valid ``PrincipalName``.
    ///   - passwordHash: The bcrypt hash.
    ///   - roles: The user's roles.
    ///   - now: The creation time.
    /// - Throws: ``AuthStoreError`` when the name is taken.
    package func addUser(name: String, passwordHash: String, roles: [String], now: Date = Date()) throws(AuthStoreError) {
        let added = try self.transaction { connection throws(SQLiteError) in
            // Users and clients share the `sub` namespace.
            guard try !Self.exists("SELECT 1 FROM clients WHERE id = ?1", name, connection: connection) else { return false }
            try connection.withStatement(
                "INSERT INTO users (name, password_hash, roles, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO NOTHING"
            ) { statement throws(SQLiteError) in
                try statement.bind(name, at: 1)
                try statement.bind(passwordHash, at: 2)
                try statement.bind(Set(roles).sorted().joined(separator: " "), at: 3)
                try statement.bind(epochMilliseconds(now), at: 4)
                _ = try statement.step()
            }
            return connection.changes == 1
        }
        guard added else { throw AuthStoreError("user or client '\(name)' already exists (users and clients share one namespace)") }
    }

    /// The user with this name, if any.
    package func user(named name: String) throws(AuthStoreError) -> UserRecord? {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement(Self.userSQL + " WHERE name = ?1") { statement throws(SQLiteError) in
                try statement.bind(name, at: 1)
                return try statement.step() ? Self.user(statement) : nil
            }
        }
    }

    /// Every user, by name.
    package func users() throws(AuthStoreError) -> [UserRecord] {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement(Self.userSQL + " ORDER BY name") { statement throws(SQLiteError) in
                var users: [UserRecord] = []
                while try statement.step() { users.append(Self.user(statement)) }
                return users
            }
        }
    }

    /// Disables a user and, in the same transaction, revokes everything they hold: their refresh tokens and,
    /// by a subject revocation, every access token issued until now.
    /// - Returns: The revocation's version, or `nil` when there is no such user.
    package func disableUser(named name: String, now: Date = Date()) throws(AuthStoreError) -> Int64? {
        try self.transaction { connection throws(SQLiteError) in
            try connection.withStatement("UPDATE users SET disabled = 1 WHERE name = ?1") { statement throws(SQLiteError) in
                try statement.bind(name, at: 1)
                _ = try statement.step()
            }
            guard connection.changes == 1 else { return nil }
            return try Self.revokeSubject(name, issuedBefore: now, connection: connection)
        }
    }

    /// Replaces a user's password and, in the same transaction, revokes everything issued with the old one:
    /// their refresh-token families and, by a subject revocation, every access token issued until now.
    /// A disabled user stays disabled.
    /// - Parameters:
    ///   - name: The user.
    ///   - passwordHash: The new bcrypt hash.
    ///   - now: The time of the change; tokens issued in this second are revoked too.
    /// - Returns: The revocation's version, or `nil` when there is no such user.
    package func changePassword(named name: String, passwordHash: String, now: Date = Date()) throws(AuthStoreError) -> Int64? {
        try self.transaction { connection throws(SQLiteError) in
            try connection.withStatement("UPDATE users SET password_hash = ?2 WHERE name = ?1") { statement throws(SQLiteError) in
                try statement.bind(name, at: 1)
                try statement.bind(passwordHash, at: 2)
                _ = try statement.step()
            }
            guard connection.changes == 1 else { return nil }
            return try Self.revokeSubject(name, issuedBefore: now, connection: connection)
        }
    }

    /// Whether `sql` with `name` bound to `?1` finds a row.
    static func exists(_ sql: String, _ name: String, connection: SQLiteConnection) throws(SQLiteError) -> Bool {
        try connection.withStatement(sql) { statement throws(SQLiteError) in
            try statement.bind(name, at: 1)
            return try statement.step()
        }
    }

    private static let userSQL = "SELECT name, password_hash, roles, disabled, created_at FROM users"

    private static func user(_ statement: SQLiteStatement) -> UserRecord {
        UserRecord(
            name: statement.string(at: 0),
            passwordHash: statement.string(at: 1),
            roles: statement.string(at: 2).split(separator: " ").map(String.init),
            disabled: statement.int64(at: 3) != 0,
            createdAtMs: statement.int64(at: 4)
        )
    }
}
