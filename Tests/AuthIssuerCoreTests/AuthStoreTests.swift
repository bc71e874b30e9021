import AuthIssuerCore
import Foundation
import GatehouseAuthAPI
import GatehouseTestSupport
import Testing

/// The issuer's database on real SQLite files: key lifecycle, refresh rotation and reuse, revocation versions.
struct AuthStoreTests {
    private let policy = TokenPolicy(issuer: "http://issuer.test")

    private func openStore(_ folder: TestFolder) async throws -> AuthStore {
        try await AuthStore(path: folder.path("auth/auth.sqlite"))
    }

    @Test func theDatabaseIsReadableByItsOwnerOnly() async throws {
        let folder = try TestFolder()
        let store = try await self.openStore(folder)
        await store.close()
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.path("auth/auth.sqlite"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let folderAttributes = try FileManager.default.attributesOfItem(atPath: folder.path("auth"))
        #expect((folderAttributes[.posixPermissions] as? Int) == 0o700)
    }

    /// A revocation or key rotation that was acknowledged must survive a power loss: the store's connection
    /// syncs every commit (`synchronous=FULL`), also when it reopens a database it created before.
    @Test func everyCommitIsSyncedToDiskBeforeItIsAcknowledged() async throws {
        let folder = try TestFolder()
        let store = try await self.openStore(folder)
        #expect(try await store.synchronousSetting() == "full")
        await store.close()
        let reopened = try await self.openStore(folder)
        #expect(try await reopened.synchronousSetting() == "full")
        await reopened.close()
    }

    @Test func aNewPasswordRevokesEveryTokenOfTheUserInTheSameTransaction() async throws {
        let store = try await self.openStore(try TestFolder())
        try await store.addUser(name: "dana", passwordHash: "old", roles: [])
        let now = Date()
        let grant = RefreshGrant(family: "f", subject: "dana", clientID: nil, scopes: ScopeSet(["read"]), familyCreatedAtMs: Int64(now.timeIntervalSince1970 * 1000))
        try await store.storeRefreshToken(tokenHash: "h", grant: grant, accessJTI: "j", accessExpiresAt: Int64(now.timeIntervalSince1970) + 600, now: now)
        #expect(try await store.changePassword(named: "dana", passwordHash: "new", now: now) == 1)
        #expect(try await store.user(named: "dana")?.passwordHash == "new")
        #expect(try await store.user(named: "dana")?.disabled == false, "the account stays usable with the new password")
        #expect(try await store.unpublishedRevocations(limit: 10).map(\.target) == [.subject("dana", issuedBefore: Int64(now.timeIntervalSince1970) + 1)])
        let refreshed = try await store.redeemRefreshToken(
            RefreshRedemptionRequest(
                tokenHash: "h", successorHash: "h2", clientID: nil, requestedScopes: nil, accessJTI: "j2", accessExpiresAt: 0,
                idleLifetime: .seconds(3600), absoluteLifetime: .seconds(7200), now: now
            ))
        #expect(refreshed == .invalid(reason: "the refresh token was revoked"))
        #expect(try await store.changePassword(named: "nobody", passwordHash: "x") == nil)
    }

    @Test func theNextKeyIsPublishedBeforeItSignsAndARetiredKeyStaysUntilItsTokensExpire() async throws {
        let folder = try TestFolder()
        let store = try await self.openStore(folder)
        try await AuthEventPublisher.ensureKeys(store: store, policy: self.policy)
        let (first, initial) = try await store.signingKeys()
        #expect(first == 1)
        #expect(Set(initial.map(\.state)) == [.active, .next])
        let next = try #require(initial.first { $0.state == .next })
        let active = try #require(initial.first { $0.state == .active })

        let ring = SigningKeyRing()
        try await ring.reload(from: store)
        #expect(ring.current?.signingKID == active.kid)
        #expect(ring.current?.jwksJSON.contains(next.kid) == true, "the next key is in the JWKS before it signs")

        let rotatedAt = Date()
        _ = try await AuthEventPublisher.rotate(store: store, policy: self.policy)
        let (second, rotated) = try await store.signingKeys()
        #expect(second == 2)
        #expect(rotated.first { $0.kid == next.kid }?.state == .active, "the key published before now signs")
        let retired = try #require(rotated.first { $0.kid == active.kid })
        #expect(retired.state == .retired)
        #expect(rotated.count == 3, "retired, active and a new next key")
        let reloaded = try #require(try await ring.reload(from: store))
        #expect(reloaded.signingKID == next.kid)
        #expect(reloaded.publishedKIDs.contains(active.kid), "the retired key still verifies its tokens")

        // Until every token it signed has expired (lifetime plus a minute), the retired key stays.
        #expect(try await store.unpublishExpiredKeys(now: rotatedAt.addingTimeInterval(60)) == nil)
        let grace = TimeInterval(self.policy.retiredKeyGrace.components.seconds)
        #expect(try await store.unpublishExpiredKeys(now: rotatedAt.addingTimeInterval(grace + 1)) == 3)
        #expect(try await store.signingKeys().keys.contains { $0.kid == active.kid } == false)
    }

    @Test func aRotatedRefreshTokenPresentedAgainKillsTheWholeFamilyAndItsAccessTokens() async throws {
        let folder = try TestFolder()
        let store = try await self.openStore(folder)
        try await store.addUser(name: "alice", passwordHash: "x", roles: ["user"])
        let grant = RefreshGrant(family: "f1", subject: "alice", clientID: nil, scopes: ScopeSet(["read"]), familyCreatedAtMs: Int64(Date().timeIntervalSince1970 * 1000))
        let future = Int64(Date().timeIntervalSince1970) + 600
        try await store.storeRefreshToken(tokenHash: "h1", grant: grant, accessJTI: "j1", accessExpiresAt: future)

        func redeem(_ hash: String, successor: String, jti: String) async throws -> RefreshRedemptionOutcome {
            try await store.redeemRefreshToken(
                RefreshRedemptionRequest(
                    tokenHash: hash, successorHash: successor, clientID: nil, requestedScopes: nil, accessJTI: jti, accessExpiresAt: future,
                    idleLifetime: .seconds(3600), absoluteLifetime: .seconds(7200), now: Date()
                ))
        }
        #expect(try await redeem("h1", successor: "h2", jti: "j2") == .rotated(grant, roles: ["user"]))
        // h1 again: reuse. Every live access token of the family (j1, j2) is revoked.
        guard case .reused(_, let revokedAccessTokens) = try await redeem("h1", successor: "h3", jti: "j3") else {
            Issue.record("reuse was not detected")
            return
        }
        #expect(revokedAccessTokens == 2)
        // The successor h2, never used, died with its family.
        #expect(try await redeem("h2", successor: "h4", jti: "j4") == .invalid(reason: "the refresh token was revoked"))
        let pending = try await store.unpublishedRevocations(limit: 10)
        #expect(pending.map(\.version) == [1, 2])
        #expect(Set(pending.map(\.target)) == [.token(jti: "j1", expiresAt: future), .token(jti: "j2", expiresAt: future)])
    }

    @Test func refreshTokensExpireWhenIdleAndStayWithTheirClient() async throws {
        let folder = try TestFolder()
        let store = try await self.openStore(folder)
        try await store.addUser(name: "bob", passwordHash: "x", roles: [])
        let issued = Date()
        let grant = RefreshGrant(family: "f", subject: "bob", clientID: "app", scopes: ScopeSet(["read", "write"]), familyCreatedAtMs: Int64(issued.timeIntervalSince1970 * 1000))
        try await store.storeRefreshToken(tokenHash: "a", grant: grant, accessJTI: "j", accessExpiresAt: 0, now: issued)
        func redeem(client: String?, scopes: ScopeSet? = nil, at now: Date) async throws -> RefreshRedemptionOutcome {
            try await store.redeemRefreshToken(
                RefreshRedemptionRequest(
                    tokenHash: "a", successorHash: "b", clientID: client, requestedScopes: scopes, accessJTI: "k", accessExpiresAt: 0,
                    idleLifetime: .seconds(60), absoluteLifetime: .seconds(3600), now: now
                ))
        }
        #expect(try await redeem(client: nil, at: issued) == .invalid(reason: "the refresh token was issued to another client"))
        #expect(try await redeem(client: "app", scopes: ScopeSet(["admin"]), at: issued) == .scopeNotGranted)
        #expect(try await redeem(client: "app", at: issued.addingTimeInterval(61)) == .invalid(reason: "the refresh token expired unused"))
        guard case .rotated(let narrowed, _) = try await redeem(client: "app", scopes: ScopeSet(["read"]), at: issued.addingTimeInterval(30)) else {
            Issue.record("the refresh was refused")
            return
        }
        #expect(narrowed.scopes == ScopeSet(["read"]))
    }

    @Test func revocationsGetConsecutiveVersionsAndStayUntilPublished() async throws {
        let folder = try TestFolder()
        let store = try await self.openStore(folder)
        try await store.addUser(name: "carol", passwordHash: "x", roles: [])
        let now = Date()
        #expect(try await store.revokeAccessToken(jti: "t1", expiresAt: Int64(now.timeIntervalSince1970) - 3600) == 1)
        #expect(try await store.disableUser(named: "carol", now: now) == 2)
        #expect(try await store.disableUser(named: "nobody") == nil)
        #expect(try await store.user(named: "carol")?.disabled == true)
        // Nothing is pruned before it is published, however old.
        try await store.prune(refreshAbsoluteLifetime: .seconds(86_400))
        #expect(try await store.unpublishedRevocations(limit: 10).map(\.version) == [1, 2])
        try await store.markRevocationsPublished(through: 2)
        #expect(try await store.unpublishedRevocations(limit: 10).isEmpty)
        try await store.prune(refreshAbsoluteLifetime: .seconds(86_400))
        let state = try await store.revocationState()
        #expect(state.version == 2)
        #expect(state.revocations.map(\.version) == [2], "the expired token's revocation is forgotten; the subject's stays")
        #expect(state.revocations.first?.target == .subject("carol", issuedBefore: Int64(now.timeIntervalSince1970) + 1))
    }

    @Test func usersAndClientsShareOneNamespaceBecauseBothAreTheSub() async throws {
        let store = try await self.openStore(try TestFolder())
        try await store.addUser(name: "reports", passwordHash: "x", roles: [])
        await #expect(throws: AuthStoreError.self) {
            try await store.addClient(id: "reports", secretHash: "y", scopes: ScopeSet(["read"]), roles: [])
        }
        try await store.addClient(id: "billing", secretHash: "y", scopes: ScopeSet(["read"]), roles: [])
        await #expect(throws: AuthStoreError.self) { try await store.addUser(name: "billing", passwordHash: "x", roles: []) }
        await #expect(throws: AuthStoreError.self) { try await store.addUser(name: "reports", passwordHash: "x", roles: []) }
    }
}
