import AuthIssuerCore
import EdgeRouterCore
import Foundation
import GatehouseAuthAPI
import GatehouseEvents
import GatehouseRPC
import GatehouseRedis
import GatehouseTestSupport
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The edge's view of the issuer: the JWKS over real HTTP from the issuer's own server, revocations kept
/// in step, and unknown `kid`s unable to make the edge hammer the issuer.
struct AuthSynchronizationTests {
    final class Calls: Sendable {
        let keys = Atomic<Int>(0)
        let states = Atomic<Int>(0)
    }

    @Test func theJWKSIsFetchedOverHTTPFromTheIssuersServer() async throws {
        let issuer = try await AccessTokenVerifierTests.Issuer()
        var logger = Logger(label: "test.http")
        logger.logLevel = .critical
        let store = try await AuthStore(path: issuer.folder.path("auth.sqlite"))
        let policy = TokenPolicy(issuer: AccessTokenVerifierTests.issuer)
        let tokens = TokenService(store: store, keys: issuer.keys, hasher: PasswordHasher(cost: 4), throttle: nil, policy: policy, logger: logger)
        var http = AuthIssuerConfiguration.HTTP()
        http.port = 0
        let ports = AsyncStream.makeStream(of: Int.self)
        let app = AuthHTTPServer.application(tokens: tokens, keys: issuer.keys, policy: policy, http: http, logger: logger) { ports.continuation.yield($0) }
        // In process on port 0, stopped by a graceful shutdown (cancelling a Hummingbird server with a
        // connection still closing can leave a channel writer unfinished).
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.stream.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let jwks = try await JWKSFetcher(url: "http://127.0.0.1:\(port)/.well-known/jwks.json").fetch()
            let verifier = AccessTokenVerifier(issuer: AccessTokenVerifierTests.issuer, audience: "gatehouse", revocations: RevocationList())
            #expect(try await verifier.replaceKeys(jwksJSON: jwks).contains(issuer.kid))
            _ = try await verifier.verify(try await issuer.token()).get()
            await #expect(throws: JWKSFetcher.Failure.self) { try await JWKSFetcher(url: "http://127.0.0.1:\(port)/nothing-here").fetch() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let closed = try freeLoopbackPort()
        await #expect(throws: JWKSFetcher.Failure.self) { try await JWKSFetcher(url: "http://127.0.0.1:\(closed)/jwks").fetch() }
        #expect(throws: JWKSFetcher.Failure.self) { try JWKSFetcher(url: "https://issuer/jwks") }
    }

    @Test func unknownKidsFetchAtMostOncePerIntervalAndGapsFetchTheWholeState() async throws {
        let issuer = try await AccessTokenVerifierTests.Issuer()
        let calls = Calls()
        let revocations = RevocationList()
        let verifier = AccessTokenVerifier(issuer: AccessTokenVerifierTests.issuer, audience: "gatehouse", revocations: revocations)
        var logger = Logger(label: "test.sync")
        logger.logLevel = .critical
        let jwks = issuer.jwks
        let applier = AuthEventApplier(
            revocations: revocations, verifier: verifier,
            fetchKeys: { calls.keys.add(1, ordering: .relaxed); return jwks },
            fetchRevocations: {
                calls.states.add(1, ordering: .relaxed)
                return (9, [RevocationEvent(version: 9, target: .subject("mallory", issuedBefore: 2_000_000_000))])
            },
            unknownKeyInterval: .seconds(60), logger: logger
        )
        try await applier.synchronize()
        #expect(calls.keys.load(ordering: .relaxed) == 1 && calls.states.load(ordering: .relaxed) == 1)
        #expect(revocations.version == 9)

        for _ in 0..<50 { _ = await applier.unknownKeySeen() }
        #expect(calls.keys.load(ordering: .relaxed) == 2, "fifty forged kids, one fetch")

        await applier.revocationMessage(RevocationEvent(version: 10, target: .token(jti: "a", expiresAt: 2_000_000_000)).jsonText())
        #expect(calls.states.load(ordering: .relaxed) == 1, "in order: applied without a fetch")
        #expect(revocations.isRevoked(jti: "a", subject: "x", issuedAt: 0))
        await applier.revocationMessage(RevocationEvent(version: 12, target: .token(jti: "b", expiresAt: 2_000_000_000)).jsonText())
        #expect(calls.states.load(ordering: .relaxed) == 2, "a gap fetches the whole state")

        await applier.keyMessage(SigningKeyEvent(generation: 1, signingKID: issuer.kid, publishedKIDs: Array(verifier.keyIDs)).jsonText())
        #expect(calls.keys.load(ordering: .relaxed) == 2, "an event naming the keys already loaded fetches nothing")
        await applier.keyMessage(SigningKeyEvent(generation: 2, signingKID: "new", publishedKIDs: ["new"]).jsonText())
        #expect(calls.keys.load(ordering: .relaxed) == 3)
    }

    @Test func anEdgeStartedWhileRedisIsDownFetchesTheRevocationsWhenItsFirstSubscriptionSucceeds() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        redis.halt()
        let issuer = try await AccessTokenVerifierTests.Issuer()
        let revocations = RevocationList()
        let verifier = AccessTokenVerifier(issuer: AccessTokenVerifierTests.issuer, audience: "gatehouse", revocations: revocations)
        let logger = {
            var logger = Logger(label: "test.subscription")
            logger.logLevel = .critical
            return logger
        }()
        let jwks = issuer.jwks
        try await IssuerRevocationRPC.with(store: issuer.store) { client, configuration in
            let fetcher = RevocationStateFetcher(client: AuthClient(rpc: client), maximumFrameBytes: configuration.maximumFrameBytes)
            let applier = AuthEventApplier(
                revocations: revocations, verifier: verifier, fetchKeys: { jwks }, fetchRevocations: { try await fetcher.fetch() }, logger: logger
            )
            let subscriber = EdgeEventSubscriber(
                redis: RedisConfiguration(port: redis.port, reconnectInitialBackoff: .milliseconds(20), reconnectMaximumBackoff: .milliseconds(200)),
                invalidations: InvalidationApplier(cache: ResponseCache(maxBytes: 1 << 20)),
                pathInvalidations: PathInvalidationApplier(cache: ResponseCache(maxBytes: 1 << 20), origin: "test"), authEvents: applier,
                invalidationsChannel: "gatehouse:invalidations", pathInvalidationsChannel: PathInvalidationMessage.defaultChannel,
                revocationsChannel: RevocationEvent.defaultChannel,
                keysChannel: SigningKeyEvent.defaultChannel, logger: logger
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The edge starts as edge-router does: keys and revocations from the issuer, and the event
                // subscription, which cannot succeed while Redis is down.
                try await applier.synchronize()
                group.addTask { try await subscriber.run() }
                let token = try await issuer.token(id: "revoked-while-redis-is-down")
                _ = try await verifier.verify(token).get()
                #expect(!applier.isRevocationStateCurrent, "without a subscription, revocations made from now on would not arrive")

                // Revoked at the issuer while Redis is down: stored, never published (no publisher runs).
                _ = try await issuer.store.revokeAccessToken(jti: "revoked-while-redis-is-down", expiresAt: Int64(Date().timeIntervalSince1970) + 600)
                _ = try await verifier.verify(token).get()  // the edge cannot know it yet

                try await redis.restart()
                let deadline = ContinuousClock.now + .seconds(20)
                while await verifier.verify(token) != .failure(.revoked), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(await verifier.verify(token) == .failure(.revoked), "fetched after the first subscription, without any event")
                #expect(applier.isRevocationStateCurrent)
                group.cancelAll()
            }
        }
    }

    @Test func aTokenRevokedShortlyBeforeItsExpiryIsStillRefusedHalfwayThroughTheLeeway() async throws {
        let issuer = try await AccessTokenVerifierTests.Issuer()
        let leeway: Int64 = 240
        let revocations = RevocationList()
        let verifier = AccessTokenVerifier(issuer: AccessTokenVerifierTests.issuer, audience: "gatehouse", leeway: .seconds(leeway), revocations: revocations)
        var logger = Logger(label: "test.leeway")
        logger.logLevel = .critical
        let jwks = issuer.jwks
        let store = issuer.store
        let applier = AuthEventApplier(
            revocations: revocations, verifier: verifier, fetchKeys: { jwks }, fetchRevocations: { try await store.revocationState() }, logger: logger
        )
        try await applier.synchronize()

        // Ten seconds before its expiry, the token is revoked and the event applied.
        let now = Int64(Date().timeIntervalSince1970)
        let token = try await issuer.token(issuedAt: Date(timeIntervalSince1970: TimeInterval(now - 590)), lifetime: .seconds(600), id: "late")
        let expiry = now + 10
        let version = try await store.revokeAccessToken(jti: "late", expiresAt: expiry)
        await applier.revocationMessage(RevocationEvent(version: version, target: .token(jti: "late", expiresAt: expiry)).jsonText())
        #expect(await verifier.verify(token) == .failure(.revoked))
        // Past exp, within the leeway the edge still accepts tokens: the revocation must not be forgotten.
        applier.prune(now: expiry + leeway / 2)
        #expect(await verifier.verify(token, now: expiry + leeway / 2) == .failure(.revoked))

        // A subject revocation: a token issued just before the cut-off, with the longest lifetime (900 s).
        let cutoff = now + 1
        let old = try await issuer.token(subject: "bob", issuedAt: Date(timeIntervalSince1970: TimeInterval(now)), lifetime: .seconds(900))
        let subjectVersion = try await store.revokeSubject("bob", issuedBefore: Date(timeIntervalSince1970: TimeInterval(now)))
        await applier.revocationMessage(RevocationEvent(version: subjectVersion, target: .subject("bob", issuedBefore: cutoff)).jsonText())
        let halfway = now + 900 + leeway / 2
        applier.prune(now: halfway)
        #expect(await verifier.verify(old, now: halfway) == .failure(.revoked))
        #expect(revocations.count == 1, "the token's revocation is gone by now (its exp + 240 s passed), the subject's stays")
        applier.prune(now: now + 900 + leeway + 2)
        #expect(revocations.count == 0, "forgotten once no token they revoke can be accepted")
    }
}
