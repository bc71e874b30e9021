import AuthIssuerCore
import Dispatch
import Foundation
import GatehouseAuthAPI
import GatehouseTestSupport
import JWTKit
import Logging
import Synchronization
import Testing

/// The grants, driven without HTTP, on a real database; tokens checked with a fresh jwt-kit collection that
/// knows nothing but the published JWKS.
struct TokenServiceTests {
    struct Issuer {
        let store: AuthStore
        let keys: SigningKeyRing
        let service: TokenService
        let policy: TokenPolicy
        let clientSecret: String

        init(
            folder: TestFolder, algorithm: TokenPolicy.Algorithm = .es256, hashingQueue: PasswordHashingQueue = PasswordHashingQueue(),
            configure: (inout TokenPolicy) -> Void = { _ in }
        ) async throws {
            var policy = TokenPolicy(issuer: "http://issuer.test")
            policy.algorithm = algorithm
            policy.bcryptCost = 4
            configure(&policy)
            self.policy = policy
            self.store = try await AuthStore(path: folder.path("auth.sqlite"))
            try await AuthEventPublisher.ensureKeys(store: self.store, policy: policy)
            self.keys = SigningKeyRing()
            try await self.keys.reload(from: self.store)
            let hasher = PasswordHasher(cost: 4, queue: hashingQueue)
            try await self.store.addUser(name: "alice", passwordHash: try await hasher.hash("correct horse"), roles: ["user", "editor"])
            self.clientSecret = TokenService.generateClientSecret()
            try await self.store.addClient(id: "reports", secretHash: TokenService.sha256Hex(self.clientSecret), scopes: ScopeSet(["read"]), roles: ["service"])
            var logger = Logger(label: "test.tokens")
            logger.logLevel = .critical
            self.service = TokenService(store: self.store, keys: self.keys, hasher: hasher, throttle: nil, policy: policy, logger: logger)
        }

        func token(_ parameters: [String: String], authorization: String? = nil) async throws(OAuthError) -> TokenResponse {
            try await self.service.token(OAuthParameters(parameters), authorization: authorization, clientIP: "127.0.0.1")
        }

        /// Verifies with a collection built from the JWKS document alone.
        func verifyWithJWKSOnly(_ token: String) async throws -> AccessTokenClaims {
            let jwks = try #require(self.keys.current?.jwksJSON)
            let verifier = try await JWTKeyCollection().add(jwksJSON: jwks)
            return try await verifier.verify(token, as: AccessTokenClaims.self)
        }
    }

    @Test(arguments: [TokenPolicy.Algorithm.es256, .eddsa])
    func aPasswordGrantIssuesATokenThatVerifiesAgainstTheJWKSAlone(algorithm: TokenPolicy.Algorithm) async throws {
        let issuer = try await Issuer(folder: try TestFolder(), algorithm: algorithm)
        let response = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse", "scope": "read"])
        #expect(response.tokenType == "Bearer")
        #expect(response.expiresIn == 600)
        #expect(response.scope == "read")
        #expect(response.refreshToken?.count == 43, "256 random bits, base64url")
        let claims = try await issuer.verifyWithJWKSOnly(response.accessToken)
        #expect(claims.sub.value == "alice")
        #expect(claims.iss.value == "http://issuer.test")
        #expect(claims.aud.value == ["gatehouse"])
        #expect(claims.roles == ["editor", "user"])
        #expect(claims.scopes == ["read"])
        #expect(claims.exp.value.timeIntervalSince(claims.iat.value) == 600)
        #expect(claims.clientID == nil)
        let header = try JSONSerialization.jsonObject(with: try #require(base64URLEncodedPart(response.accessToken))) as? [String: Any]
        #expect(header?["kid"] as? String == issuer.keys.current?.signingKID)
        #expect(header?["alg"] as? String == algorithm.rawValue)
        #expect(header?["typ"] as? String == "at+jwt")
    }

    @Test func wrongPasswordsUnknownUsersAndBadScopesAreTheRFCErrors() async throws {
        let issuer = try await Issuer(folder: try TestFolder())
        let wrong = OAuthError(.invalidGrant, "the username or password is wrong")
        await #expect(throws: wrong) { try await issuer.token(["grant_type": "password", "username": "alice", "password": "wrong"]) }
        await #expect(throws: wrong) { try await issuer.token(["grant_type": "password", "username": "mallory", "password": "wrong"]) }
        await #expect(throws: OAuthError(.invalidScope, "the requested scope is malformed or not within 'read write'")) {
            try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse", "scope": "admin"])
        }
        await #expect(throws: OAuthError(.invalidRequest, "the 'password' parameter is missing")) {
            try await issuer.token(["grant_type": "password", "username": "alice"])
        }
        await #expect(throws: OAuthError(.unsupportedGrantType, "grant_type 'implicit' is not supported; use password, client_credentials or refresh_token")) {
            try await issuer.token(["grant_type": "implicit"])
        }
    }

    @Test func clientCredentialsNeedTheRightSecretAndGetNoRefreshToken() async throws {
        let issuer = try await Issuer(folder: try TestFolder())
        let basic = "Basic " + Data("reports:\(issuer.clientSecret)".utf8).base64EncodedString()
        let response = try await issuer.token(["grant_type": "client_credentials"], authorization: basic)
        #expect(response.refreshToken == nil)
        #expect(response.scope == "read")
        let claims = try await issuer.verifyWithJWKSOnly(response.accessToken)
        #expect(claims.sub.value == "reports")
        #expect(claims.clientID == "reports")
        #expect(claims.roles == ["service"])
        let failed = OAuthError(.invalidClient, "client authentication failed")
        await #expect(throws: failed) { try await issuer.token(["grant_type": "client_credentials", "client_id": "reports", "client_secret": "nope"]) }
        await #expect(throws: failed) { try await issuer.token(["grant_type": "client_credentials", "client_id": "ghost", "client_secret": "nope"]) }
        await #expect(throws: OAuthError(.invalidScope, "the requested scope is malformed or not within 'read'")) {
            try await issuer.token(["grant_type": "client_credentials", "scope": "write"], authorization: basic)
        }
    }

    @Test func aRefreshRotatesAndTheOldTokenPresentedAgainRevokesTheFamily() async throws {
        let issuer = try await Issuer(folder: try TestFolder())
        let login = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"])
        let first = try #require(login.refreshToken)
        let refreshed = try await issuer.token(["grant_type": "refresh_token", "refresh_token": first, "scope": "read"])
        let second = try #require(refreshed.refreshToken)
        #expect(second != first)
        #expect(refreshed.scope == "read")
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was already used; every token of this login is now revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": first])
        }
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": second])
        }
        let revoked = try await issuer.store.unpublishedRevocations(limit: 10)
        #expect(revoked.count == 2, "both access tokens of the family are revoked too")
    }

    @Test func revokingAnAccessTokenRecordsItsJTIUntilItsExpiry() async throws {
        let issuer = try await Issuer(folder: try TestFolder())
        let login = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"])
        try await issuer.service.revoke(OAuthParameters(["token": login.accessToken]), authorization: nil, clientIP: "127.0.0.1")
        let claims = try await issuer.verifyWithJWKSOnly(login.accessToken)
        let revoked = try await issuer.store.unpublishedRevocations(limit: 10)
        #expect(revoked == [RevocationEvent(version: 1, target: .token(jti: claims.jti.value, expiresAt: Int64(claims.exp.value.timeIntervalSince1970)))])
        // RFC 7009 §2.2: an unknown token is not an error.
        try await issuer.service.revoke(OAuthParameters(["token": "not-a-token"]), authorization: nil, clientIP: "127.0.0.1")
        // The hint is advisory (RFC 7009 §2.1): a wrong or unknown one does not stop the revocation.
        let refresh = try #require(login.refreshToken)
        try await issuer.service.revoke(OAuthParameters(["token": refresh, "token_type_hint": "id_token"]), authorization: nil, clientIP: "127.0.0.1")
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": refresh])
        }
    }

    @Test func aLoginPastTheFamilyLimitRevokesTheUsersOldestFamily() async throws {
        let issuer = try await Issuer(folder: try TestFolder()) { $0.maxRefreshFamiliesPerUser = 2 }
        var logins: [TokenResponse] = []
        for _ in 0..<3 {
            logins.append(try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"]))
        }
        // The third login displaced the first: its refresh token is dead, and so is its access token.
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": logins[0].refreshToken ?? ""])
        }
        let first = try await issuer.verifyWithJWKSOnly(logins[0].accessToken)
        let revoked = try await issuer.store.unpublishedRevocations(limit: 10)
        #expect(revoked.map(\.target) == [.token(jti: first.jti.value, expiresAt: Int64(first.exp.value.timeIntervalSince1970))])
        // The two newest logins still refresh; refreshing does not start a family, so nothing else is displaced.
        for login in logins[1...] {
            let refreshed = try await issuer.token(["grant_type": "refresh_token", "refresh_token": login.refreshToken ?? ""])
            #expect(refreshed.refreshToken != nil)
        }
        // A fourth login displaces the second, the oldest now.
        _ = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"])
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": logins[1].refreshToken ?? ""])
        }
    }

    @Test func aRotatedClientTokenReplayedWithoutTheClientsSecretLeavesTheFamilyAlive() async throws {
        let issuer = try await Issuer(folder: try TestFolder())
        let basic = "Basic " + Data("reports:\(issuer.clientSecret)".utf8).base64EncodedString()
        let login = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse", "scope": "read"], authorization: basic)
        let old = try #require(login.refreshToken)
        let rotated = try await issuer.token(["grant_type": "refresh_token", "refresh_token": old], authorization: basic)
        var current = try #require(rotated.refreshToken)

        // The rotated token replayed by someone without the client's secret: refused as a client
        // authentication failure, and the family lives on.
        let noClient = OAuthError(.invalidClient, "the refresh token was issued to a client; authenticate as that client to use it")
        await #expect(throws: noClient) { try await issuer.token(["grant_type": "refresh_token", "refresh_token": old]) }
        await #expect(throws: OAuthError(.invalidClient, "client authentication failed")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": old, "client_id": "reports", "client_secret": "wrong"])
        }
        await #expect(throws: OAuthError(.invalidClient, "client authentication failed")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": old, "client_id": "reports"])
        }
        #expect(try await issuer.store.unpublishedRevocations(limit: 10).isEmpty, "nothing was revoked")
        let stillAlive = try await issuer.token(["grant_type": "refresh_token", "refresh_token": current], authorization: basic)
        current = try #require(stillAlive.refreshToken)

        // The client itself replaying the rotated token: reuse, the whole family is revoked as before.
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was already used; every token of this login is now revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": old], authorization: basic)
        }
        await #expect(throws: OAuthError(.invalidGrant, "the refresh token was revoked")) {
            try await issuer.token(["grant_type": "refresh_token", "refresh_token": current], authorization: basic)
        }
    }

    @Test func aLoginFindingThePasswordQueueFullIs503WithRetryAfterAndChecksNothing() async throws {
        let queue = PasswordHashingQueue(concurrency: 1, waitingLimit: 0)
        let issuer = try await Issuer(folder: try TestFolder(), hashingQueue: queue)
        let release = DispatchSemaphore(value: 0)
        let holding = Atomic<Bool>(false)
        // Another password check holds the only turn.
        let holder = Task {
            try await queue.run {
                holding.store(true, ordering: .relaxed)
                release.wait()
            }
        }
        while !holding.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(5)) }
        do {
            _ = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"])
            Issue.record("a login was accepted while the hashing queue was full")
        } catch {
            #expect(error.code == .temporarilyUnavailable)
            #expect(error.status == 503)
            #expect((error.retryAfterSeconds ?? 0) >= 1)
            #expect(error.message.hasPrefix("too many passwords are being checked right now"), "\(error.message)")
        }
        release.signal()
        try await holder.value
        let login = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"])
        #expect(login.refreshToken != nil, "once the turn is free, the login succeeds")
    }
}

/// The first (header) part of a JWT, base64url-decoded.
func base64URLEncodedPart(_ token: String, index: Int = 0) -> Data? {
    var part = String(token.split(separator: ".")[index]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while part.count % 4 != 0 { part += "=" }
    return Data(base64Encoded: part)
}
