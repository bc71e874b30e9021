@testable import AuthIssuerCore
import Foundation
import GatehouseAuthAPI
import GatehouseEvents
import GatehouseRedis
import GatehouseSQLite
import GatehouseTestSupport
import JWTKit
import Logging
import Testing

/// Revoking what is already revoked adds nothing: one entry per `jti` and per subject, so the revocation
/// state and the event stream grow with what is revoked, not with how often (issue 23, item 2).
@Suite(.timeLimit(.minutes(2)))
struct RevocationIdempotencyTests {
    @Test func revokingTheSameTokenAThousandTimesStoresOneRowAndPublishesOneEvent() async throws {
        let redisServer = try await RedisServerProcess.start()
        defer { redisServer.stop() }
        let issuer = try await TokenServiceTests.Issuer(folder: try TestFolder())
        var logger = Logger(label: "test.revocations")
        logger.logLevel = .critical
        let redis = RedisClient(configuration: RedisConfiguration(port: redisServer.port, connectTimeout: .seconds(5), commandTimeout: .seconds(5)), logger: logger)
        let publisher = AuthEventPublisher(
            store: issuer.store, keys: issuer.keys, redis: redis, policy: issuer.policy, revocationsChannel: RevocationEvent.defaultChannel,
            keysChannel: SigningKeyEvent.defaultChannel, pollInterval: .milliseconds(50), logger: logger
        )
        let events = RedisChannelCollector(redisPort: redisServer.port, channel: RevocationEvent.defaultChannel)
        let token = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"]).accessToken
        let sentinel = try await issuer.token(["grant_type": "password", "username": "alice", "password": "correct horse"]).accessToken

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await redis.run() }
            group.addTask { await publisher.run() }
            try await events.whileSubscribed {
                for _ in 0..<1_000 {
                    try await issuer.service.revoke(OAuthParameters(["token": token]), authorization: nil, clientIP: "192.0.2.1")
                }
                // Events go out in version order: once the sentinel's arrived, every earlier one has too.
                try await issuer.service.revoke(OAuthParameters(["token": sentinel]), authorization: nil, clientIP: "192.0.2.1")
                try await events.waitUntil { $0.contains { $0.contains(#""version":2"#) } }
            }
            group.cancelAll()
        }

        let published = try events.messages.map { try RevocationEvent(jsonText: $0) }
        let claims = try #require(await issuer.keys.verify(token, issuer: issuer.policy.issuer, audience: issuer.policy.audience))
        #expect(published.map(\.version) == [1, 2], "one event for the token revoked 1,000 times, one for the sentinel")
        #expect(published.first?.target == .token(jti: claims.jti.value, expiresAt: Int64(claims.exp.value.timeIntervalSince1970)))
        let state = try await issuer.store.revocationState()
        #expect(state.version == 2, "no version was spent on the repeats")
        #expect(state.revocations.count == 2, "one row per jti")
    }

    @Test func aTokenOrSubjectRevokedAgainKeepsOneEntryAndOnlyALaterReachTakesANewVersion() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try await store.revokeAccessToken(jti: "t1", expiresAt: 1_800_000_600) == 1)
        #expect(try await store.revokeAccessToken(jti: "t1", expiresAt: 1_800_000_600) == 1, "the same revocation again")
        #expect(try await store.revokeAccessToken(jti: "t1", expiresAt: 1_800_000_300) == 1, "an earlier expiry reaches less")
        #expect(try await store.revokeSubject("carol", issuedBefore: now) == 2)
        #expect(try await store.revokeSubject("carol", issuedBefore: now) == 2, "the same second again")
        #expect(try await store.revokeSubject("carol", issuedBefore: now.addingTimeInterval(-60)) == 2)
        // A later cut-off revokes tokens issued since the first one: it must reach the edges, and replaces it.
        #expect(try await store.revokeSubject("carol", issuedBefore: now.addingTimeInterval(60)) == 3)
        #expect(try await store.revokeAccessToken(jti: "t1", expiresAt: 1_800_000_900) == 4, "a later expiry (the CLI's default)")

        let state = try await store.revocationState()
        #expect(state.version == 4)
        #expect(state.revocations == [
            RevocationEvent(version: 3, target: .subject("carol", issuedBefore: 1_800_000_061)),
            RevocationEvent(version: 4, target: .token(jti: "t1", expiresAt: 1_800_000_900)),
        ])
        #expect(try await store.unpublishedRevocations(limit: 10).map(\.version) == [3, 4], "the replaced entries are never published")
        await #expect(throws: AuthStoreError.self) { try await store.revokeAccessToken(jti: "", expiresAt: 1) }
        await #expect(throws: AuthStoreError.self) { try await store.revokeAccessToken(jti: String(repeating: "j", count: 256), expiresAt: 1) }
    }

    @Test func aDatabaseWithRepeatedRevocationsKeepsTheOneReachingFurthestWhenMigrated() async throws {
        let folder = try TestFolder()
        let path = folder.path("auth.sqlite")
        // A database of the previous schema, where every revocation was a row of its own.
        let old = try SQLiteConnection(path: path)
        try SQLiteMigrator(Array(AuthSchema.migrator.migrations.prefix(1))).migrate(old)
        try old.execute(
            """
            INSERT INTO revocations (version, jti, expires_at, subject, issued_before, published) VALUES
                (1, 'a', 100, NULL, NULL, 1), (2, 'a', 100, NULL, NULL, 1), (3, NULL, NULL, 'bob', 50, 1),
                (4, 'a', 300, NULL, NULL, 1), (5, 'a', 200, NULL, NULL, 0), (6, NULL, NULL, 'bob', 70, 0),
                (7, NULL, NULL, 'bob', 60, 1), (8, 'b', 100, NULL, NULL, 0);
            UPDATE counters SET value = 8 WHERE name = 'revocation_version';
            """
        )
        old.close()

        let store = try await AuthStore(path: path)
        let state = try await store.revocationState()
        #expect(state.version == 8)
        #expect(state.revocations == [
            RevocationEvent(version: 4, target: .token(jti: "a", expiresAt: 300)),
            RevocationEvent(version: 6, target: .subject("bob", issuedBefore: 70)),
            RevocationEvent(version: 8, target: .token(jti: "b", expiresAt: 100)),
        ])
        #expect(try await store.revokeAccessToken(jti: "a", expiresAt: 300) == 4)
        #expect(try await store.revokeAccessToken(jti: "b", expiresAt: 400) == 9)
        #expect(try await store.revocationState().revocations.count == 3)
    }
}
