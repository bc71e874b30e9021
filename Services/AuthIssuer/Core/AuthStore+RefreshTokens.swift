import Foundation
import GatehouseAuthAPI
import GatehouseSQLite

/// What presenting a refresh token asks of the store: the token, its successor, and what must hold.
package struct RefreshRedemptionRequest: Sendable {
    /// The SHA-256 of the presented token, hex.
    package var tokenHash: String
    /// The SHA-256 of the successor token, hex.
    package var successorHash: String
    /// The authenticated client, if any; a family issued to a client only continues for that client.
    package var clientID: String?
    /// A narrower scope asked for, if any.
    package var requestedScopes: ScopeSet?
    /// The `jti` and expiry (seconds) of the access token that will be issued with the successor.
    package var accessJTI: String
    /// The access token's `exp`.
    package var accessExpiresAt: Int64
    /// Unused for longer than this, the token has expired.
    package var idleLifetime: Duration
    /// Older than this since the family's first token, the family has expired.
    package var absoluteLifetime: Duration
    /// The time of the request.
    package var now: Date

    /// Creates a request.
    package init(
        tokenHash: String, successorHash: String, clientID: String?, requestedScopes: ScopeSet?, accessJTI: String,
        accessExpiresAt: Int64, idleLifetime: Duration, absoluteLifetime: Duration, now: Date
    ) {
        self.tokenHash = tokenHash
        self.successorHash = successorHash
        self.clientID = clientID
        self.requestedScopes = requestedScopes
        self.accessJTI = accessJTI
        self.accessExpiresAt = accessExpiresAt
        self.idleLifetime = idleLifetime
        self.absoluteLifetime = absoluteLifetime
        self.now = now
    }
}

/// The store's answer to a ``RefreshRedemptionRequest``.
package enum RefreshRedemptionOutcome: Sendable, Equatable {
    /// The token was current and is now rotated; the successor continues the family with these scopes,
    /// for a user with these roles.
    case rotated(RefreshGrant, roles: [String])
    /// The token had already been rotated: the family, and the access tokens issued with it, are revoked.
    case reused(RefreshGrant, revokedAccessTokens: Int)
    /// Unknown, revoked, expired, issued to another client, or its user is gone or disabled.
    case invalid(reason: String)
    /// The requested scope is not within the family's.
    case scopeNotGranted
}

/// How many live refresh-token families (logins) one user may hold, and what counts as live.
package struct RefreshFamilyLimit: Sendable {
    /// The most live families per subject; a new one past it revokes the oldest.
    package var maxFamilies: Int
    /// A family whose current token is unused for this long is dead already and does not count.
    package var idleLifetime: Duration
    /// A family older than this is dead already and does not count.
    package var absoluteLifetime: Duration

    /// The limit a token policy sets (`tokens.max_refresh_families_per_user`, `tokens.refresh_idle_lifetime_s`,
    /// `tokens.refresh_absolute_lifetime_s`).
    package init(policy: TokenPolicy) {
        self.maxFamilies = policy.maxRefreshFamiliesPerUser
        self.idleLifetime = policy.refreshIdleLifetime
        self.absoluteLifetime = policy.refreshAbsoluteLifetime
    }
}

extension AuthStore {
    /// Stores the first refresh token of a new family and, in the same transaction, revokes the subject's
    /// oldest live families (and their unexpired access tokens) beyond `limit`.
    /// - Parameters:
    ///   - tokenHash: The SHA-256 of the token, hex.
    ///   - grant: The family.
    ///   - accessJTI: The access token issued with it.
    ///   - accessExpiresAt: Its `exp`.
    ///   - limit: The bound on live families per subject; `nil`: none.
    ///   - now: The issue time.
    /// - Returns: The families revoked to make room, oldest first.
    @discardableResult
    package func storeRefreshToken(
        tokenHash: String, grant: RefreshGrant, accessJTI: String, accessExpiresAt: Int64, limit: RefreshFamilyLimit? = nil, now: Date = Date()
    ) throws(AuthStoreError) -> [String] {
        let nowMs = epochMilliseconds(now)
        return try self.transaction { connection throws(SQLiteError) in
            var revoked: [String] = []
            if let limit {
                // Each live family has exactly one current token: not yet rotated, not revoked, not expired.
                let live = try connection.withStatement(
                    """
                    SELECT family FROM refresh_tokens
                    WHERE subject = ?1 AND used_at IS NULL AND revoked_at IS NULL AND created_at > ?2 AND family_created_at > ?3
                    ORDER BY family_created_at, rowid
                    """
                ) { statement throws(SQLiteError) in
                    try statement.bind(grant.subject, at: 1)
                    try statement.bind(nowMs - milliseconds(limit.idleLifetime), at: 2)
                    try statement.bind(nowMs - milliseconds(limit.absoluteLifetime), at: 3)
                    var families: [String] = []
                    while try statement.step() { families.append(statement.string(at: 0)) }
                    return families
                }
                revoked = Array(live.prefix(max(0, live.count - limit.maxFamilies + 1)))
                for family in revoked {
                    _ = try Self.revokeFamily(family, nowMs: nowMs, connection: connection)
                }
            }
            try Self.insertRefreshToken(
                tokenHash: tokenHash, grant: grant, accessJTI: accessJTI, accessExpiresAt: accessExpiresAt, nowMs: nowMs, connection: connection
            )
            return revoked
        }
    }

    /// Who holds a refresh token: its subject and the client it was issued to, if any; `nil` for an unknown
    /// token. Read before a refresh, so the client is checked and the subject charged before anything changes.
    package func refreshTokenHolder(tokenHash: String) throws(AuthStoreError) -> (subject: String, clientID: String?)? {
        try self.run { connection throws(SQLiteError) in
            try connection.withStatement("SELECT subject, client_id FROM refresh_tokens WHERE hash = ?1") { statement throws(SQLiteError) in
                try statement.bind(tokenHash, at: 1)
                return try statement.step() ? (statement.string(at: 0), statement.optionalString(at: 1)) : nil
            }
        }
    }

    /// Presents a refresh token: checks it and rotates it in one transaction, or detects reuse and revokes the
    /// family. A token issued to a client is checked against `request.clientID` before reuse is: a caller
    /// that is not the client gets `.invalid` and nothing is revoked.
    package func redeemRefreshToken(_ request: RefreshRedemptionRequest) throws(AuthStoreError) -> RefreshRedemptionOutcome {
        let nowMs = epochMilliseconds(request.now)
        return try self.transaction { connection throws(SQLiteError) in
            let found = try connection.withStatement(
                """
                SELECT r.family, r.subject, r.client_id, r.scope, r.created_at, r.family_created_at, r.used_at, r.revoked_at,
                       u.roles, u.disabled
                FROM refresh_tokens r LEFT JOIN users u ON u.name = r.subject WHERE r.hash = ?1
                """
            ) { statement throws(SQLiteError) -> (RefreshGrant, createdAt: Int64, used: Bool, revoked: Bool, roles: [String], disabled: Bool, userMissing: Bool)? in
                try statement.bind(request.tokenHash, at: 1)
                guard try statement.step() else { return nil }
                let grant = RefreshGrant(
                    family: statement.string(at: 0), subject: statement.string(at: 1), clientID: statement.optionalString(at: 2),
                    scopes: ScopeSet(statement.string(at: 3).split(separator: " ").map(String.init)), familyCreatedAtMs: statement.int64(at: 5)
                )
                return (
                    grant, statement.int64(at: 4), !statement.isNull(at: 6), !statement.isNull(at: 7),
                    (statement.optionalString(at: 8) ?? "").split(separator: " ").map(String.init),
                    statement.int64(at: 9) != 0, statement.isNull(at: 8)
                )
            }
            guard let found else { return .invalid(reason: "unknown refresh token") }
            let grant = found.0
            if found.revoked { return .invalid(reason: "the refresh token was revoked") }
            // The client first: presenting a rotated token of a client's family without being that client
            // must not revoke the family (only the client can, as on /oauth/revoke).
            if grant.clientID != request.clientID {
                return .invalid(reason: "the refresh token was issued to another client")
            }
            if found.used {
                let revoked = try Self.revokeFamily(grant.family, nowMs: nowMs, connection: connection)
                return .reused(grant, revokedAccessTokens: revoked)
            }
            if found.userMissing || found.disabled {
                _ = try Self.revokeFamily(grant.family, nowMs: nowMs, connection: connection)
                return .invalid(reason: "the user no longer exists or is disabled")
            }
            if nowMs - found.createdAt > milliseconds(request.idleLifetime) {
                return .invalid(reason: "the refresh token expired unused")
            }
            if nowMs - grant.familyCreatedAtMs > milliseconds(request.absoluteLifetime) {
                return .invalid(reason: "the refresh token's login is too old; log in again")
            }
            var scopes = grant.scopes
            if let requested = request.requestedScopes {
                guard requested.isSubset(of: grant.scopes) else { return .scopeNotGranted }
                scopes = requested
            }
            try connection.withStatement("UPDATE refresh_tokens SET used_at = ?2 WHERE hash = ?1") { statement throws(SQLiteError) in
                try statement.bind(request.tokenHash, at: 1)
                try statement.bind(nowMs, at: 2)
                _ = try statement.step()
            }
            // The family keeps its original scopes: a narrower request narrows this token only.
            try Self.insertRefreshToken(
                tokenHash: request.successorHash, grant: grant, accessJTI: request.accessJTI, accessExpiresAt: request.accessExpiresAt,
                nowMs: nowMs, connection: connection
            )
            let issued = RefreshGrant(family: grant.family, subject: grant.subject, clientID: grant.clientID, scopes: scopes, familyCreatedAtMs: grant.familyCreatedAtMs)
            return .rotated(issued, roles: found.roles)
        }
    }

    /// Revokes the family of a refresh token (RFC 7009) and the access tokens issued with it.
    /// - Parameters:
    ///   - tokenHash: The SHA-256 of a token of the family, hex.
    ///   - clientID: The authenticated client, if any.
    ///   - now: The time of the request.
    /// - Returns: `nil` for an unknown token; whether it was issued to `clientID` otherwise (nothing is
    ///   revoked when it was not).
    package func revokeRefreshFamily(tokenHash: String, clientID: String?, now: Date = Date()) throws(AuthStoreError) -> Bool? {
        try self.transaction { connection throws(SQLiteError) in
            let owner = try connection.withStatement("SELECT family, client_id FROM refresh_tokens WHERE hash = ?1") { statement throws(SQLiteError) -> (String, String?)? in
                try statement.bind(tokenHash, at: 1)
                return try statement.step() ? (statement.string(at: 0), statement.optionalString(at: 1)) : nil
            }
            guard let (family, familyClient) = owner else { return nil }
            guard familyClient == nil || familyClient == clientID else { return false }
            _ = try Self.revokeFamily(family, nowMs: epochMilliseconds(now), connection: connection)
            return true
        }
    }

    /// Marks a family revoked and adds a revocation for each of its access tokens that an edge may still
    /// accept: not expired, or expired less than the largest leeway ago.
    /// - Returns: How many access tokens were revoked.
    static func revokeFamily(_ family: String, nowMs: Int64, connection: SQLiteConnection) throws(SQLiteError) -> Int {
        let live = try connection.withStatement(
            "SELECT access_jti, access_expires_at FROM refresh_tokens WHERE family = ?1 AND revoked_at IS NULL AND access_expires_at > ?2"
        ) { statement throws(SQLiteError) in
            try statement.bind(family, at: 1)
            try statement.bind(nowMs / 1000 - RevocationRetention.largestLeeway.components.seconds, at: 2)
            var tokens: [(String, Int64)] = []
            while try statement.step() { tokens.append((statement.string(at: 0), statement.int64(at: 1))) }
            return tokens
        }
        try connection.withStatement("UPDATE refresh_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL") { statement throws(SQLiteError) in
            try statement.bind(family, at: 1)
            try statement.bind(nowMs, at: 2)
            _ = try statement.step()
        }
        for (jti, expiresAt) in live {
            _ = try Self.insertRevocation(.token(jti: jti, expiresAt: expiresAt), connection: connection)
        }
        return live.count
    }

    private static func insertRefreshToken(
        tokenHash: String, grant: RefreshGrant, accessJTI: String, accessExpiresAt: Int64, nowMs: Int64, connection: SQLiteConnection
    ) throws(SQLiteError) {
        try connection.withStatement(
            """
            INSERT INTO refresh_tokens (hash, family, subject, client_id, scope, created_at, family_created_at, access_jti, access_expires_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """
        ) { statement throws(SQLiteError) in
            try statement.bind(tokenHash, at: 1)
            try statement.bind(grant.family, at: 2)
            try statement.bind(grant.subject, at: 3)
            try statement.bind(grant.clientID, at: 4)
            try statement.bind(grant.scopes.parameter, at: 5)
            try statement.bind(nowMs, at: 6)
            try statement.bind(grant.familyCreatedAtMs, at: 7)
            try statement.bind(accessJTI, at: 8)
            try statement.bind(accessExpiresAt, at: 9)
            _ = try statement.step()
        }
    }
}
