import Crypto
import Foundation
import GatehouseAuthAPI
import JWTKit
import Logging
import Metrics

/// The OAuth 2.0 logic behind `POST /oauth/token` (RFC 6749) and `POST /oauth/revoke` (RFC 7009), free of
/// HTTP so tests can drive it directly.
///
/// Grants: `password` (users; client authentication optional), `client_credentials` (confidential clients),
/// `refresh_token` (rotated on every use; a rotated token presented again revokes its family, but only by
/// the client it was issued to). Logins, refreshes and revocations are charged to limiter policies
/// (``IssuerThrottle``); bcrypt waits in a ``PasswordHashingQueue`` (through the ``PasswordHasher``); a user
/// holds at most `tokens.max_refresh_families_per_user` families.
package final class TokenService: Sendable {
    private let store: AuthStore
    private let keys: SigningKeyRing
    private let hasher: PasswordHasher
    private let throttle: IssuerThrottle?
    private let policy: TokenPolicy
    private let logger: Logger
    private let revocationAdded: @Sendable () -> Void
    private let now: @Sendable () -> Date

    /// Creates the service.
    /// - Parameters:
    ///   - store: The database.
    ///   - keys: The loaded signing keys.
    ///   - hasher: bcrypt.
    ///   - throttle: The rate limits of logins, refreshes and revocations; `nil` turns them off.
    ///   - policy: Token lifetimes, issuer, audience, user scopes.
    ///   - logger: Receives failed logins and security events (never passwords or tokens).
    ///   - revocationAdded: Called after a revocation committed, so the publisher sends it at once.
    ///   - now: The clock.
    package init(
        store: AuthStore, keys: SigningKeyRing, hasher: PasswordHasher, throttle: IssuerThrottle?, policy: TokenPolicy, logger: Logger,
        revocationAdded: @escaping @Sendable () -> Void = {}, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.keys = keys
        self.hasher = hasher
        self.throttle = throttle
        self.policy = policy
        self.logger = logger
        self.revocationAdded = revocationAdded
        self.now = now
    }

    // MARK: Token endpoint

    /// Answers a token request.
    /// - Parameters:
    ///   - parameters: The body parameters.
    ///   - authorization: The `Authorization` header, if any.
    ///   - clientIP: The caller's address, for brute-force protection and logs.
    /// - Returns: The tokens.
    /// - Throws: ``OAuthError`` exactly as RFC 6749 §5.2 defines.
    package func token(_ parameters: OAuthParameters, authorization: String?, clientIP: String) async throws(OAuthError) -> TokenResponse {
        let grant = parameters["grant_type"] ?? "none"
        do throws(OAuthError) {
            let credentials = try ClientCredentials.from(authorization: authorization, parameters: parameters)
            let response: TokenResponse
            switch parameters["grant_type"] {
            case "password":
                response = try await self.passwordGrant(parameters, credentials: credentials, clientIP: clientIP)
            case "client_credentials":
                response = try await self.clientCredentialsGrant(parameters, credentials: credentials)
            case "refresh_token":
                response = try await self.refreshTokenGrant(parameters, credentials: credentials, clientIP: clientIP)
            case nil:
                throw OAuthError(.invalidRequest, "the 'grant_type' parameter is missing")
            case let other?:
                throw OAuthError(.unsupportedGrantType, "grant_type '\(other)' is not supported; use password, client_credentials or refresh_token")
            }
            AuthMetrics.issued(grant: grant).increment()
            return response
        } catch {
            AuthMetrics.refused(grant: ["password", "client_credentials", "refresh_token"].contains(grant) ? grant : "other", error: error.code).increment()
            throw error
        }
    }

    private func passwordGrant(_ parameters: OAuthParameters, credentials: ClientCredentials?, clientIP: String) async throws(OAuthError) -> TokenResponse {
        let username = try parameters.required("username")
        let password = try parameters.required("password")
        let client = try await self.authenticate(credentials)
        if let throttle, let wait = await throttle.loginRetryAfter(username: username, clientIP: clientIP) {
            AuthMetrics.throttledLogins.increment()
            self.logger.notice("login refused: too many logins", metadata: ["auth.username": "\(username)", "client.ip": "\(clientIP)", "retry_after_s": "\(wait)"])
            throw OAuthError(.slowDown, "too many logins for this username or address; retry after \(wait) s", retryAfterSeconds: wait)
        }
        let user = try await self.storage { try await self.store.user(named: username) }
        let matches: Bool
        do {
            matches = try await self.hasher.verify(password, against: user?.passwordHash)
        } catch let full as PasswordHashingQueueFull {
            AuthMetrics.passwordChecksRefused.increment()
            self.logger.notice("login refused: too many passwords being checked", metadata: ["auth.username": "\(username)", "client.ip": "\(clientIP)", "retry_after_s": "\(full.retryAfterSeconds)"])
            throw OAuthError(.temporarilyUnavailable, full.description, retryAfterSeconds: full.retryAfterSeconds)
        } catch {
            // Cancelled while waiting (the client went away), or the thread pool is shutting down.
            throw OAuthError(.temporarilyUnavailable, "the issuer is shutting down; retry shortly", retryAfterSeconds: 1)
        }
        AuthMetrics.passwordChecks.increment()
        guard let user, matches, !user.disabled else {
            let reason = user == nil ? "unknown_user" : (matches ? "disabled" : "wrong_password")
            AuthMetrics.failedLogin(reason: reason).increment()
            self.logger.notice("login failed", metadata: ["auth.reason": "\(reason)", "auth.username": "\(username)", "client.ip": "\(clientIP)"])
            await self.throttle?.recordFailedLogin(username: username, clientIP: clientIP)
            throw OAuthError(.invalidGrant, reason == "disabled" ? "the user is disabled" : "the username or password is wrong")
        }
        await self.throttle?.recordLogin(username: username, clientIP: clientIP)
        var allowed = ScopeSet(self.policy.userScopes)
        if let client { allowed = allowed.intersection(client.scopes) }
        guard let scopes = ScopeSet.granted(parameter: parameters["scope"], allowed: allowed) else {
            throw OAuthError(.invalidScope, "the requested scope is malformed or not within '\(allowed.parameter)'")
        }
        let access = try await self.accessToken(subject: user.name, scopes: scopes, roles: user.roles, clientID: client?.id)
        let refresh = Self.newRefreshToken()
        let grant = RefreshGrant(family: Self.randomID(bytes: 16), subject: user.name, clientID: client?.id, scopes: scopes, familyCreatedAtMs: epochMilliseconds(self.now()))
        let limit = RefreshFamilyLimit(policy: self.policy)
        let displaced = try await self.storage {
            try await self.store.storeRefreshToken(
                tokenHash: refresh.hash, grant: grant, accessJTI: access.jti, accessExpiresAt: access.expiresAt, limit: limit, now: self.now()
            )
        }
        if !displaced.isEmpty {
            AuthMetrics.revoked(kind: "oldest_refresh_family").increment(by: Int64(displaced.count))
            self.revocationAdded()
            self.logger.info(
                "oldest refresh family revoked: the user holds the most logins allowed",
                metadata: ["auth.subject": "\(user.name)", "auth.families": "\(displaced)", "tokens.max_refresh_families_per_user": "\(limit.maxFamilies)"]
            )
        }
        return self.response(access, refreshToken: refresh.token, scopes: scopes)
    }

    private func clientCredentialsGrant(_ parameters: OAuthParameters, credentials: ClientCredentials?) async throws(OAuthError) -> TokenResponse {
        guard let client = try await self.authenticate(credentials) else {
            throw OAuthError(.invalidClient, "client_credentials needs client authentication (HTTP Basic, or client_id and client_secret)")
        }
        guard let scopes = ScopeSet.granted(parameter: parameters["scope"], allowed: client.scopes) else {
            throw OAuthError(.invalidScope, "the requested scope is malformed or not within '\(client.scopes.parameter)'")
        }
        let access = try await self.accessToken(subject: client.id, scopes: scopes, roles: client.roles, clientID: client.id)
        return self.response(access, refreshToken: nil, scopes: scopes)
    }

    private func refreshTokenGrant(_ parameters: OAuthParameters, credentials: ClientCredentials?, clientIP: String) async throws(OAuthError) -> TokenResponse {
        let token = try parameters.required("refresh_token")
        let client = try await self.authenticate(credentials)
        var requested: ScopeSet?
        if let scope = parameters["scope"] {
            guard let parsed = ScopeSet(parameter: scope) else { throw OAuthError(.invalidScope, "the 'scope' parameter is malformed") }
            requested = parsed
        }
        let tokenHash = Self.sha256Hex(token)
        guard let holder = try await self.storage({ try await self.store.refreshTokenHolder(tokenHash: tokenHash) }) else {
            throw OAuthError(.invalidGrant, "unknown refresh token")
        }
        // The client, before anything else about the token: without the secret of the client it was issued
        // to, a token (current or already rotated) neither refreshes nor revokes its family.
        if holder.clientID != client?.id {
            if let owner = holder.clientID, client == nil {
                self.logger.notice("client authentication failed", metadata: ["auth.client_id": "\(owner)", "auth.reason": "refresh_token_without_client"])
                throw OAuthError(.invalidClient, "the refresh token was issued to a client; authenticate as that client to use it")
            }
            throw OAuthError(.invalidGrant, "the refresh token was issued to another client")
        }
        if let throttle, let wait = await throttle.refreshRetryAfter(subject: holder.subject) {
            self.logger.notice("refresh refused: too many refreshes", metadata: ["auth.subject": "\(holder.subject)", "client.ip": "\(clientIP)", "retry_after_s": "\(wait)"])
            throw OAuthError(.slowDown, "too many token refreshes for this user; retry after \(wait) s", retryAfterSeconds: wait)
        }
        let jti = Self.randomID(bytes: 16)
        let issuedAt = self.now()
        let expiresAt = epochSeconds(issuedAt) + self.policy.accessLifetime.components.seconds
        let successor = Self.newRefreshToken()
        let request = RefreshRedemptionRequest(
            tokenHash: tokenHash, successorHash: successor.hash, clientID: client?.id, requestedScopes: requested,
            accessJTI: jti, accessExpiresAt: expiresAt, idleLifetime: self.policy.refreshIdleLifetime,
            absoluteLifetime: self.policy.refreshAbsoluteLifetime, now: issuedAt
        )
        switch try await self.storage({ try await self.store.redeemRefreshToken(request) }) {
        case .rotated(let grant, let roles):
            let access = try await self.accessToken(subject: grant.subject, scopes: grant.scopes, roles: roles, clientID: grant.clientID, jti: jti, issuedAt: issuedAt)
            return self.response(access, refreshToken: successor.token, scopes: grant.scopes)
        case .reused(let grant, let revokedAccessTokens):
            AuthMetrics.refreshReuse.increment()
            AuthMetrics.revoked(kind: "refresh_family").increment()
            self.revocationAdded()
            self.logger.warning(
                "security: a rotated refresh token was presented again; its whole family is revoked",
                metadata: [
                    "event": "refresh_token_reuse", "auth.subject": "\(grant.subject)", "auth.family": "\(grant.family)",
                    "auth.client_id": "\(grant.clientID ?? "-")", "client.ip": "\(clientIP)", "revoked_access_tokens": "\(revokedAccessTokens)",
                ]
            )
            throw OAuthError(.invalidGrant, "the refresh token was already used; every token of this login is now revoked")
        case .invalid(let reason):
            // A disabled user's family was just revoked with its access tokens; publish that now.
            self.revocationAdded()
            throw OAuthError(.invalidGrant, reason)
        case .scopeNotGranted:
            throw OAuthError(.invalidScope, "the requested scope exceeds the scope of the original grant")
        }
    }

    // MARK: Revocation endpoint

    /// Answers a revocation request (RFC 7009): revokes a refresh token's family or an access token.
    /// An unknown, expired or foreign-issuer token is not an error (RFC 7009 §2.2). `token_type_hint` is
    /// advisory (RFC 7009 §2.1) and not needed: the token's form tells a JWT from a refresh token.
    /// Each request is charged to the revocation policy, per authenticated client or else per address.
    /// - Parameters:
    ///   - parameters: The body parameters.
    ///   - authorization: The `Authorization` header, if any.
    ///   - clientIP: The caller's address, which the revocation policy counts without client authentication.
    /// - Throws: ``OAuthError``: `invalid_request` without `token`, `invalid_client` for bad client
    ///   credentials, `slow_down` over the revocation policy, `unauthorized_client` when the token was
    ///   issued to another client.
    package func revoke(_ parameters: OAuthParameters, authorization: String?, clientIP: String) async throws(OAuthError) {
        let token = try parameters.required("token")
        let client = try await self.authenticate(try ClientCredentials.from(authorization: authorization, parameters: parameters))
        if let throttle, let wait = await throttle.revocationRetryAfter(clientID: client?.id, clientIP: clientIP) {
            self.logger.notice("revocation refused: too many revocations", metadata: ["auth.client_id": "\(client?.id ?? "-")", "client.ip": "\(clientIP)", "retry_after_s": "\(wait)"])
            throw OAuthError(.slowDown, "too many revocation requests from this client or address; retry after \(wait) s", retryAfterSeconds: wait)
        }
        // A JWT has two dots; a refresh token has none.
        if !token.contains(".") {
            let outcome = try await self.storage { try await self.store.revokeRefreshFamily(tokenHash: Self.sha256Hex(token), clientID: client?.id, now: self.now()) }
            if outcome == false { throw OAuthError(.unauthorizedClient, "the token was issued to a client; authenticate as that client to revoke it") }
            if outcome == true {
                AuthMetrics.revoked(kind: "refresh_family").increment()
                self.revocationAdded()
            }
            return
        }
        guard let claims = await self.keys.verify(token, issuer: self.policy.issuer, audience: self.policy.audience) else { return }
        if let owner = claims.clientID, owner != client?.id {
            throw OAuthError(.unauthorizedClient, "the token was issued to a client; authenticate as that client to revoke it")
        }
        let version = try await self.storage { try await self.store.revokeAccessToken(jti: claims.jti.value, expiresAt: epochSeconds(claims.exp.value)) }
        AuthMetrics.revoked(kind: "access_token").increment()
        self.logger.info("access token revoked", metadata: ["auth.jti": "\(claims.jti.value)", "auth.subject": "\(claims.sub.value)", "revocation.version": "\(version)"])
        self.revocationAdded()
    }

    // MARK: Pieces

    /// Checks client credentials: `nil` when none were given, the client when they are right.
    private func authenticate(_ credentials: ClientCredentials?) async throws(OAuthError) -> ClientRecord? {
        guard let credentials else { return nil }
        let client = try await self.storage { try await self.store.client(id: credentials.id) }
        // Constant-time comparison of the hashes; an unknown client is compared against a fixed hash.
        let presented = Self.sha256Hex(credentials.secret ?? "")
        let expected = client?.secretHash ?? Self.sha256Hex("unknown client")
        guard Self.constantTimeEquals(presented, expected), let client, credentials.secret != nil else {
            self.logger.notice("client authentication failed", metadata: ["auth.client_id": "\(credentials.id)"])
            throw OAuthError(.invalidClient, "client authentication failed")
        }
        return client
    }

    private struct AccessToken {
        let token: String
        let jti: String
        let expiresAt: Int64
    }

    private func accessToken(
        subject: String, scopes: ScopeSet, roles: [String], clientID: String?, jti: String = TokenService.randomID(bytes: 16), issuedAt: Date? = nil
    ) async throws(OAuthError) -> AccessToken {
        let claims = AccessTokenClaims(
            issuer: self.policy.issuer, audience: self.policy.audience, subject: subject, issuedAt: issuedAt ?? self.now(),
            lifetime: self.policy.accessLifetime, id: jti, scopes: scopes.scopes, roles: roles, clientID: clientID
        )
        do {
            return AccessToken(token: try await self.keys.sign(claims), jti: jti, expiresAt: epochSeconds(claims.exp.value))
        } catch {
            self.logger.error("cannot sign an access token", metadata: ["error": "\(error)"])
            throw OAuthError(.temporarilyUnavailable, "the issuer cannot sign tokens right now")
        }
    }

    private func response(_ access: AccessToken, refreshToken: String?, scopes: ScopeSet) -> TokenResponse {
        TokenResponse(
            accessToken: access.token, tokenType: "Bearer", expiresIn: Int(self.policy.accessLifetime.components.seconds),
            refreshToken: refreshToken, scope: scopes.parameter
        )
    }

    /// Runs a store operation, turning its failure into `temporarily_unavailable`.
    private func storage<Value>(_ operation: () async throws -> Value) async throws(OAuthError) -> Value {
        do {
            return try await operation()
        } catch {
            self.logger.error("auth database failure", metadata: ["error": "\(error)"])
            throw OAuthError(.temporarilyUnavailable, "the issuer's database is unavailable")
        }
    }

    /// A new refresh token (256 random bits, base64url) and the hash that is stored instead of it.
    static func newRefreshToken() -> (token: String, hash: String) {
        let token = randomID(bytes: 32)
        return (token, sha256Hex(token))
    }

    /// A new client secret: 256 random bits, base64url. Only its SHA-256 is stored.
    package static func generateClientSecret() -> String {
        randomID(bytes: 32)
    }

    /// Random bytes, base64url.
    static func randomID(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return SigningKeyMaterial.base64URL((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// The SHA-256 of a text, lower-case hex: how refresh tokens and client secrets are stored.
    package static func sha256Hex(_ text: String) -> String {
        SigningKeyMaterial.hex(SHA256.hash(data: Array(text.utf8)))
    }

    /// Compares two texts in time that depends only on their lengths.
    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
