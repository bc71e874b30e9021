import Foundation
import GatehouseAuthAPI
import GatehouseSQLite

extension AuthStore {
    /// Revokes one access token until its expiry.
    /// - Returns: The revocation's version.
    public func revokeAccessToken(jti: String, expiresAt: Int64) throws(AuthStoreError) -> Int64 {
        try self.transaction { connection throws(SQLiteError) in
            try Self.insertRevocation(.token(jti: jti, expiresAt: expiresAt), connection: connection)
        }
    }

    /// Revokes every token of a subject issued before `issuedBefore`: access tokens by a subject revocation,
    /// refresh tokens by revoking their families.
    /// - Returns: The revocation's version.
    public func revokeSubject(_ subject: String, issuedBefore: Date = Date()) throws(AuthStoreError) -> Int64 {
        try self.transaction { connection throws(SQLiteError) in
            try Self.revokeSubject(subject, issuedBefore: issuedBefore, connection: connection)
        }
    }

    /// Revocations not yet published, in version order.
    public func unpublishedRevocations(limit: Int) throws(AuthStoreError) -> [RevocationEvent] {
        try self.run { connection throws(SQLiteError) in
            try Self.revocations(where: "published = 0", limit: limit, connection: connection)
        }
    }

    /// How many revocations wait to be published.
    public func unpublishedRevocationCount() throws(AuthStoreError) -> Int {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement("SELECT count(*) FROM revocations WHERE published = 0") { statement throws(SQLiteError) in
                _ = try statement.step()
                return Int(statement.int64(at: 0))
            }
        }
    }

    /// Marks revocations up to and including `version` as published.
    public func markRevocationsPublished(through version: Int64) throws(AuthStoreError) {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement("UPDATE revocations SET published = 1 WHERE version <= ?1 AND published = 0") { statement throws(SQLiteError) in
                try statement.bind(version, at: 1)
                _ = try statement.step()
            }
        }
    }

    /// Every revocation still in force and the newest version, read together (for `auth.RevocationState`).
    public func revocationState() throws(AuthStoreError) -> (version: Int64, revocations: [RevocationEvent]) {
        try self.run { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                (try connection.counter("revocation_version"), try Self.revocations(where: "1", limit: Int.max, connection: connection))
            }
        }
    }

    /// Forgets published revocations that can no longer matter: token revocations after the token's expiry,
    /// subject revocations once every token issued before them has expired; and refresh tokens whose
    /// family is past its absolute lifetime.
    /// - Parameters:
    ///   - now: The current time.
    ///   - accessLifetime: The longest access-token lifetime.
    ///   - refreshAbsoluteLifetime: The refresh-family lifetime.
    /// - Returns: How many revocations were removed.
    @discardableResult
    public func prune(now: Date = Date(), accessLifetime: Duration, refreshAbsoluteLifetime: Duration) throws(AuthStoreError) -> Int {
        let nowSeconds = epochSeconds(now)
        return try self.transaction { connection throws(SQLiteError) in
            try connection.withStatement(
                "DELETE FROM revocations WHERE published = 1 AND (expires_at < ?1 OR issued_before < ?2)"
            ) { statement throws(SQLiteError) in
                try statement.bind(nowSeconds - 60, at: 1)
                try statement.bind(nowSeconds - accessLifetime.components.seconds - 60, at: 2)
                _ = try statement.step()
            }
            let removed = connection.changes
            try connection.withStatement("DELETE FROM refresh_tokens WHERE family_created_at < ?1") { statement throws(SQLiteError) in
                try statement.bind(epochMilliseconds(now) - milliseconds(refreshAbsoluteLifetime), at: 1)
                _ = try statement.step()
            }
            return removed
        }
    }

    static func revokeSubject(_ subject: String, issuedBefore: Date, connection: SQLiteConnection) throws(SQLiteError) -> Int64 {
        let families = try connection.withStatement("SELECT DISTINCT family FROM refresh_tokens WHERE subject = ?1 AND revoked_at IS NULL") { statement throws(SQLiteError) in
            try statement.bind(subject, at: 1)
            var families: [String] = []
            while try statement.step() { families.append(statement.string(at: 0)) }
            return families
        }
        let nowMs = epochMilliseconds(Date())
        try connection.withStatement("UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1") { statement throws(SQLiteError) in
            for family in families {
                try statement.bind(family, at: 1)
                try statement.bind(nowMs, at: 2)
                _ = try statement.step()
                statement.reset()
            }
        }
        // `iat` is whole seconds: a token issued in this very second is revoked too.
        return try Self.insertRevocation(.subject(subject, issuedBefore: epochSeconds(issuedBefore) + 1), connection: connection)
    }

    static func insertRevocation(_ target: RevocationEvent.Target, connection: SQLiteConnection) throws(SQLiteError) -> Int64 {
        let version = try connection.incrementCounter("revocation_version")
        try connection.withStatement(
            "INSERT INTO revocations (version, jti, expires_at, subject, issued_before) VALUES (?1, ?2, ?3, ?4, ?5)"
        ) { statement throws(SQLiteError) in
            try statement.bind(version, at: 1)
            switch target {
            case .token(let jti, let expiresAt):
                try statement.bind(jti, at: 2)
                try statement.bind(expiresAt, at: 3)
                try statement.bindNull(at: 4)
                try statement.bindNull(at: 5)
            case .subject(let subject, let issuedBefore):
                try statement.bindNull(at: 2)
                try statement.bindNull(at: 3)
                try statement.bind(subject, at: 4)
                try statement.bind(issuedBefore, at: 5)
            }
            _ = try statement.step()
        }
        return version
    }

    private static func revocations(where condition: String, limit: Int, connection: SQLiteConnection) throws(SQLiteError) -> [RevocationEvent] {
        try connection.withStatement(
            "SELECT version, jti, expires_at, subject, issued_before FROM revocations WHERE \(condition) ORDER BY version LIMIT ?1"
        ) { statement throws(SQLiteError) in
            try statement.bind(Int64(clamping: limit), at: 1)
            var events: [RevocationEvent] = []
            while try statement.step() {
                let version = statement.int64(at: 0)
                if let jti = statement.optionalString(at: 1) {
                    events.append(RevocationEvent(version: version, target: .token(jti: jti, expiresAt: statement.int64(at: 2))))
                } else {
                    events.append(RevocationEvent(version: version, target: .subject(statement.string(at: 3), issuedBefore: statement.int64(at: 4))))
                }
            }
            return events
        }
    }
}
