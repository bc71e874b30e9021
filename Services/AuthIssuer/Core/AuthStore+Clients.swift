import Foundation
import GatehouseSQLite

extension AuthStore {
    /// Adds a client.
    /// - Parameters:
    ///   - id: A valid ``PrincipalName``.
    ///   - secretHash: The SHA-256 of its secret, hex.
    ///   - scopes: What it may ask for.
    ///   - roles: The roles its tokens carry.
    ///   - now: The creation time.
    /// - Throws: ``AuthStoreError`` when the id is taken.
    package func addClient(id: String, secretHash: String, scopes: ScopeSet, roles: [String], now: Date = Date()) throws(AuthStoreError) {
        let added = try self.transaction { connection throws(SQLiteError) in
            // Users and clients share the `sub` namespace.
            guard try !Self.exists("SELECT 1 FROM users WHERE name = ?1", id, connection: connection) else { return false }
            try connection.withStatement(
                "INSERT INTO clients (id, secret_hash, scopes, roles, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING"
            ) { statement throws(SQLiteError) in
                try statement.bind(id, at: 1)
                try statement.bind(secretHash, at: 2)
                try statement.bind(scopes.parameter, at: 3)
                try statement.bind(Set(roles).sorted().joined(separator: " "), at: 4)
                try statement.bind(epochMilliseconds(now), at: 5)
                _ = try statement.step()
            }
            return connection.changes == 1
        }
        guard added else { throw AuthStoreError("user or client '\(id)' already exists (users and clients share one namespace)") }
    }

    /// The client with this id, if any.
    package func client(id: String) throws(AuthStoreError) -> ClientRecord? {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement(Self.clientSQL + " WHERE id = ?1") { statement throws(SQLiteError) in
                try statement.bind(id, at: 1)
                return try statement.step() ? Self.client(statement) : nil
            }
        }
    }

    /// Every client, by id.
    package func clients() throws(AuthStoreError) -> [ClientRecord] {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement(Self.clientSQL + " ORDER BY id") { statement throws(SQLiteError) in
                var clients: [ClientRecord] = []
                while try statement.step() { clients.append(Self.client(statement)) }
                return clients
            }
        }
    }

    private static let clientSQL = "SELECT id, secret_hash, scopes, roles, created_at FROM clients"

    private static func client(_ statement: SQLiteStatement) -> ClientRecord {
        ClientRecord(
            id: statement.string(at: 0),
            secretHash: statement.string(at: 1),
            scopes: ScopeSet(statement.string(at: 2).split(separator: " ").map(String.init)),
            roles: statement.string(at: 3).split(separator: " ").map(String.init),
            createdAtMs: statement.int64(at: 4)
        )
    }
}
