import Foundation
import GatehouseAuthAPI
import GatehouseSQLite

extension AuthStore {
    /// The longest `jti` a revocation accepts, in bytes (the issuer's own are 22 characters), so that any
    /// revocation fits a page of `auth.RevocationState`.
    package static let maximumJTIBytes = 255

    /// Revokes one access token until its expiry. Revoking it again changes nothing (no version, no
    /// event) unless the new expiry is later, which replaces the entry under a new version.
    /// - Returns: The version of the revocation in force for this `jti`.
    /// - Throws: ``AuthStoreError`` for an empty `jti` or one longer than ``maximumJTIBytes``.
    package func revokeAccessToken(jti: String, expiresAt: Int64) throws(AuthStoreError) -> Int64 {
        guard (1...Self.maximumJTIBytes).contains(jti.utf8.count) else {
            throw AuthStoreError("a jti must have 1 to \(Self.maximumJTIBytes) bytes; this one has \(jti.utf8.count)")
        }
        return try self.transaction { connection throws(SQLiteError) in
            try Self.insertRevocation(.token(jti: jti, expiresAt: expiresAt), connection: connection)
        }
    }

    /// Revokes every token of a subject issued before `issuedBefore`: access tokens by a subject revocation,
    /// refresh tokens by revoking their families. The subject keeps one revocation, the newest cut-off.
    /// - Returns: The version of the subject's revocation in force.
    package func revokeSubject(_ subject: String, issuedBefore: Date = Date()) throws(AuthStoreError) -> Int64 {
        try self.transaction { connection throws(SQLiteError) in
            try Self.revokeSubject(subject, issuedBefore: issuedBefore, connection: connection)
        }
    }

    /// Revocations not yet published, in version order.
    /// - Parameters:
    ///   - after: Only revocations with a higher version (the newest one published but perhaps not yet marked).
    ///   - limit: The most to return.
    package func unpublishedRevocations(after: Int64 = 0, limit: Int) throws(AuthStoreError) -> [RevocationEvent] {
        try self.run { connection throws(SQLiteError) in
            try Self.revocations(where: "published = 0", after: after, limit: limit, connection: connection)
        }
    }

    /// How many revocations wait to be published.
    /// - Parameter after: Only revocations with a higher version count.
    package func unpublishedRevocationCount(after: Int64 = 0) throws(AuthStoreError) -> Int {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement("SELECT count(*) FROM revocations WHERE published = 0 AND version > ?1") { statement throws(SQLiteError) in
                try statement.bind(after, at: 1)
                _ = try statement.step()
                return Int(statement.int64(at: 0))
            }
        }
    }

    /// Marks revocations up to and including `version` as published.
    package func markRevocationsPublished(through version: Int64) throws(AuthStoreError) {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement("UPDATE revocations SET published = 1 WHERE version <= ?1 AND published = 0") { statement throws(SQLiteError) in
                try statement.bind(version, at: 1)
                _ = try statement.step()
            }
        }
    }

    /// The revocations still stored whose version is above `after`, in version order, and the newest
    /// version, read together (for `auth.RevocationState`, one page at a time).
    /// - Parameters:
    ///   - after: Only revocations with a higher version (0: from the first).
    ///   - limit: At most this many.
    package func revocationState(after: Int64 = 0, limit: Int = .max) throws(AuthStoreError) -> (version: Int64, revocations: [RevocationEvent]) {
        try self.run { connection throws(SQLiteError) in
            try connection.transaction { () throws(SQLiteError) in
                (try connection.counter("revocation_version"), try Self.revocations(where: "1", after: after, limit: limit, connection: connection))
            }
        }
    }

    /// Forgets published revocations no edge can need any more, and refresh tokens whose family is past its
    /// absolute lifetime. A token revocation is kept until its token's `exp` plus the largest leeway an
    /// edge accepts, a subject revocation until its cut-off plus the longest access-token lifetime plus that
    /// leeway (``RevocationRetention``), so no edge accepts a revoked token the issuer has forgotten.
    /// - Parameters:
    ///   - now: The current time.
    ///   - refreshAbsoluteLifetime: The refresh-family lifetime.
    /// - Returns: How many revocations were removed.
    @discardableResult
    package func prune(now: Date = Date(), refreshAbsoluteLifetime: Duration) throws(AuthStoreError) -> Int {
        let nowSeconds = epochSeconds(now)
        let leeway = RevocationRetention.largestLeeway.components.seconds
        return try self.transaction { connection throws(SQLiteError) in
            // The negation of `RevocationRetention.keepsToken` and `.keepsSubject`.
            try connection.withStatement(
                "DELETE FROM revocations WHERE published = 1 AND (expires_at < ?1 OR issued_before < ?2)"
            ) { statement throws(SQLiteError) in
                try statement.bind(nowSeconds - leeway, at: 1)
                try statement.bind(nowSeconds - RevocationRetention.longestAccessLifetime.components.seconds - leeway, at: 2)
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

    /// Stores a revocation, one per `jti` and one per subject: when the target already has a revocation
    /// that reaches as far (the same or a later expiry or cut-off), nothing changes and its version is
    /// returned; otherwise the new one replaces it under the next version, to be published as an event.
    /// - Returns: The version of the target's revocation in force.
    static func insertRevocation(_ target: RevocationEvent.Target, connection: SQLiteConnection) throws(SQLiteError) -> Int64 {
        let (column, key, reach, reachColumn): (String, String, Int64, String) =
            switch target {
            case .token(let jti, let expiresAt): ("jti", jti, expiresAt, "expires_at")
            case .subject(let subject, let issuedBefore): ("subject", subject, issuedBefore, "issued_before")
            }
        let existing = try connection.withStatement(
            "SELECT version, \(reachColumn) FROM revocations WHERE \(column) = ?1"
        ) { statement throws(SQLiteError) -> (version: Int64, reach: Int64)? in
            try statement.bind(key, at: 1)
            return try statement.step() ? (version: statement.int64(at: 0), reach: statement.int64(at: 1)) : nil
        }
        if let existing {
            if existing.reach >= reach { return existing.version }
            try connection.withStatement("DELETE FROM revocations WHERE version = ?1") { statement throws(SQLiteError) in
                try statement.bind(existing.version, at: 1)
                _ = try statement.step()
            }
        }
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

    private static func revocations(where condition: String, after: Int64, limit: Int, connection: SQLiteConnection) throws(SQLiteError) -> [RevocationEvent] {
        try connection.withStatement(
            "SELECT version, jti, expires_at, subject, issued_before FROM revocations WHERE \(condition) AND version > ?2 ORDER BY version LIMIT ?1"
        ) { statement throws(SQLiteError) in
            try statement.bind(Int64(clamping: limit), at: 1)
            try statement.bind(after, at: 2)
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
