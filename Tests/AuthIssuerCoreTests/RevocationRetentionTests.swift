import AuthIssuerCore
import Foundation
import GatehouseAuthAPI
import GatehouseTestSupport
import Testing

/// The issuer keeps and makes revocations for as long as any edge may accept the token: until `exp` plus
/// the largest leeway an edge can have (300 s), and for subjects the longest access-token lifetime on top
/// (issue 23, item 5).
struct RevocationRetentionTests {
    @Test func publishedRevocationsAreKeptUntilNoEdgeCanAcceptTheirTokens() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        let expiry: Int64 = 1_800_000_000
        _ = try await store.revokeAccessToken(jti: "t1", expiresAt: expiry)
        _ = try await store.revokeSubject("carol", issuedBefore: Date(timeIntervalSince1970: TimeInterval(expiry)))
        try await store.markRevocationsPublished(through: 2)
        func kept(at now: Int64) async throws -> [Int64] {
            try await store.prune(now: Date(timeIntervalSince1970: TimeInterval(now)), refreshAbsoluteLifetime: .seconds(86_400))
            return try await store.revocationState().revocations.map(\.version)
        }
        // An edge with the largest leeway (auth.leeway_ms 300000) accepts the token until exp + 300 s.
        #expect(try await kept(at: expiry + 150) == [1, 2], "halfway through the largest leeway")
        #expect(try await kept(at: expiry + 300) == [1, 2])
        #expect(try await kept(at: expiry + 301) == [2])
        // The subject's cut-off is expiry + 1: a token issued just before it lives at most 900 s, plus 300.
        #expect(try await kept(at: expiry + 1 + 900 + 300) == [2])
        #expect(try await kept(at: expiry + 1 + 900 + 301) == [])
    }

    @Test func aRevokedRefreshFamilyAlsoRevokesAnAccessTokenExpiredWithinTheLeeway() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        let now = Date()
        let expired = Int64(now.timeIntervalSince1970) - 30
        let grant = RefreshGrant(family: "f1", subject: "alice", clientID: nil, scopes: ScopeSet(["read"]), familyCreatedAtMs: Int64(now.timeIntervalSince1970 * 1000) - 700_000)
        try await store.storeRefreshToken(tokenHash: "h1", grant: grant, accessJTI: "expired-30s-ago", accessExpiresAt: expired, now: now.addingTimeInterval(-630))
        #expect(try await store.revokeRefreshFamily(tokenHash: "h1", clientID: nil, now: now) == true)
        #expect(try await store.revocationState().revocations == [RevocationEvent(version: 1, target: .token(jti: "expired-30s-ago", expiresAt: expired))])
    }

    @Test func postOAuthRevokeRevokesATokenExpiredWithinTheLeeway() async throws {
        let issuer = try await TokenServiceTests.Issuer(folder: try TestFolder())
        let issued = Date().addingTimeInterval(-630)
        let token = try await issuer.keys.sign(
            AccessTokenClaims(
                issuer: issuer.policy.issuer, audience: issuer.policy.audience, subject: "alice", issuedAt: issued, lifetime: .seconds(600),
                id: "expired-30s-ago", scopes: ["read"], roles: [], clientID: nil
            ))
        try await issuer.service.revoke(OAuthParameters(["token": token]), authorization: nil, clientIP: "192.0.2.1")
        let state = try await issuer.store.revocationState()
        #expect(state.revocations.map(\.target) == [.token(jti: "expired-30s-ago", expiresAt: Int64(issued.timeIntervalSince1970.rounded(.down)) + 600)])
        let older = try await issuer.keys.sign(
            AccessTokenClaims(
                issuer: issuer.policy.issuer, audience: issuer.policy.audience, subject: "alice", issuedAt: Date().addingTimeInterval(-1000),
                lifetime: .seconds(600), id: "expired-400s-ago", scopes: ["read"], roles: [], clientID: nil
            ))
        try await issuer.service.revoke(OAuthParameters(["token": older]), authorization: nil, clientIP: "192.0.2.1")
        #expect(try await issuer.store.revocationState().revocations.count == 1, "a token no edge accepts any more needs no revocation")
    }
}
