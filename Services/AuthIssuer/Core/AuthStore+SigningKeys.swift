import Foundation
import GatehouseSQLite

extension AuthStore {
    /// The published keys (next, active, retired) and the key generation, read together.
    package func signingKeys() throws(AuthStoreError) -> (generation: Int64, keys: [SigningKeyRecord]) {
        try self.run { connection throws(SQLiteError) in
            let generation = try connection.counter("key_generation")
            let keys = try connection.withStatement(
                "SELECT kid, algorithm, private_key, public_jwk, created_at, activated_at, retired_at, unpublish_at FROM signing_keys ORDER BY created_at, kid"
            ) { statement throws(SQLiteError) in
                var keys: [SigningKeyRecord] = []
                while try statement.step() {
                    keys.append(
                        SigningKeyRecord(
                            kid: statement.string(at: 0), algorithm: statement.string(at: 1), privateKey: statement.string(at: 2),
                            publicJWK: statement.string(at: 3), createdAtMs: statement.int64(at: 4), activatedAtMs: statement.optionalInt64(at: 5),
                            retiredAtMs: statement.optionalInt64(at: 6), unpublishAtMs: statement.optionalInt64(at: 7)
                        ))
                }
                return keys
            }
            return (generation, keys)
        }
    }

    /// The key generation alone: a cheap check for changes made by another process.
    package func keyGeneration() throws(AuthStoreError) -> Int64 {
        try self.run { connection throws(SQLiteError) in try connection.counter("key_generation") }
    }

    /// Rotates in one transaction: the active key retires (published for `grace` more), the next key starts
    /// signing, and a fresh key becomes the next one. With no next key (a new database), the first
    /// candidate signs at once and the second becomes the next.
    /// - Parameters:
    ///   - candidates: Two freshly generated keys; the rotation stores one or both.
    ///   - now: The rotation time.
    ///   - grace: How long the retired key stays published.
    /// - Returns: The new key generation.
    package func rotateSigningKeys(candidates: [SigningKeyRecord], now: Date = Date(), grace: Duration) throws(AuthStoreError) -> Int64 {
        precondition(candidates.count == 2, "a rotation takes two candidate keys")
        let nowMs = epochMilliseconds(now)
        return try self.transaction { connection throws(SQLiteError) in
            try connection.withStatement(
                "UPDATE signing_keys SET retired_at = ?1, unpublish_at = ?2 WHERE activated_at IS NOT NULL AND retired_at IS NULL"
            ) { statement throws(SQLiteError) in
                try statement.bind(nowMs, at: 1)
                try statement.bind(nowMs + milliseconds(grace), at: 2)
                _ = try statement.step()
            }
            try connection.withStatement("UPDATE signing_keys SET activated_at = ?1 WHERE activated_at IS NULL") { statement throws(SQLiteError) in
                try statement.bind(nowMs, at: 1)
                _ = try statement.step()
            }
            if connection.changes == 0 {
                try Self.insert(candidates[1], activatedAtMs: nowMs, connection: connection)
            }
            try Self.insert(candidates[0], activatedAtMs: nil, connection: connection)
            return try connection.incrementCounter("key_generation")
        }
    }

    /// Removes retired keys whose tokens have all expired.
    /// - Returns: The new key generation when a key left, else `nil`.
    package func unpublishExpiredKeys(now: Date = Date()) throws(AuthStoreError) -> Int64? {
        try self.transaction { connection throws(SQLiteError) in
            try connection.withStatement("DELETE FROM signing_keys WHERE unpublish_at <= ?1") { statement throws(SQLiteError) in
                try statement.bind(epochMilliseconds(now), at: 1)
                _ = try statement.step()
            }
            return connection.changes > 0 ? try connection.incrementCounter("key_generation") : nil
        }
    }

    private static func insert(_ key: SigningKeyRecord, activatedAtMs: Int64?, connection: SQLiteConnection) throws(SQLiteError) {
        try connection.withStatement(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, created_at, activated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ) { statement throws(SQLiteError) in
            try statement.bind(key.kid, at: 1)
            try statement.bind(key.algorithm, at: 2)
            try statement.bind(key.privateKey, at: 3)
            try statement.bind(key.publicJWK, at: 4)
            try statement.bind(key.createdAtMs, at: 5)
            try statement.bind(activatedAtMs, at: 6)
            _ = try statement.step()
        }
    }
}
