import AuthIssuerCore
import EdgeRouterCore
import Foundation
import GatehouseAuthAPI
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
            #expect((try? await verifier.verify(try await issuer.token()).get()) != nil)
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
}
