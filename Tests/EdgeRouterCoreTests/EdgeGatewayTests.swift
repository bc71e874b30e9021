import Foundation
@testable import EdgeRouterCore
import GatehouseAuthAPI
import GatehouseDataAPI
import GatehouseLimiterAPI
import GatehouseLimiterPolicies
import GatehouseRPC
import GatehouseTestSupport
import Logging
import Synchronization
import Testing

/// The gateway's steps driven in process, without sockets, in front of a fake upstream: tokens signed as the
/// issuer signs them (``TestTokenIssuer``), limits decided by the real edge limiter (against the real `limiter`
/// executable on a real redis-server where a limit binds), the real cache.
@Suite(.timeLimit(.minutes(2)))
struct EdgeGatewayTests {
    static let routes = """
        routes:
          - path: /v1/{collection}/{id}
            methods: [GET]
            auth: optional
            cache: {ttl: 30s, scope: public}
          - path: /v1/{collection}
            methods: [GET]
            auth: optional
            cache: {ttl: 30s, scope: public}
          - path: /v1/{collection}/{id}
            methods: [PUT, DELETE]
          - path: /v1/private/{id}
            methods: [GET]
          - path: /v1/admin/{id}
            methods: [GET]
            roles: [admin]
          - path: /v1/drafts/{id}
            methods: [PUT]
            scopes: [write]
          - path: /v1/brief/{id}
            methods: [GET]
            auth: none
            cache: {ttl: 200ms, scope: public, stale_if_error: 1m}
          - path: /v1/limited/{id}
            methods: [GET]
            tiers: {user: [per_user]}
          - path: /v1/counted/{id}
            methods: [GET]
            cache: {ttl: 30s, scope: public}
            tiers: {user: [per_user]}
          - path: /v1/shared/{id}
            methods: [GET]
            auth: optional
            cache: {ttl: 30s, scope: public}
            cors: {origins: [https://app.example.com]}
          - path: /v1/shared/{id}
            methods: [PUT]
            cors: {origins: [https://app.example.com], credentials: true}
        """

    /// The policy file of the edge and, with `limits`, of the limiter it asks.
    static let policyFile = "policies:\n  - {name: per_user, limit: 2, period: 1m, key: [sub]}\n"
    static let policies = try! PolicyCatalog(yaml: Self.policyFile, source: "policies.yaml")

    /// A gateway in front of an upstream.
    final class Gateway<Upstream: EdgeUpstream>: Sendable {
        let gateway: EdgeGateway
        let upstream: Upstream
        let issuer: TestTokenIssuer
        let revocations: RevocationList
        private let sequence = Atomic<Int>(0)

        init(gateway: EdgeGateway, upstream: Upstream, issuer: TestTokenIssuer, revocations: RevocationList) {
            self.gateway = gateway
            self.upstream = upstream
            self.issuer = issuer
            self.revocations = revocations
        }

        /// Answers one request as the HTTP server would hand it over.
        func send(_ method: String = "GET", _ target: String, token: String? = nil, headers: [String: String] = [:], body: String = "") async -> EdgeResponse {
            await self.gateway.handle(self.request(method, target, token: token, headers: headers, body: body))
        }

        /// The answer the HTTP server would give within the read (``EdgeGateway/answerAtOnce(_:)``); `nil` when
        /// the request must wait for ``send(_:_:token:headers:body:)``'s path.
        func sendAtOnce(_ method: String = "GET", _ target: String, token: String? = nil, headers: [String: String] = [:]) -> EdgeResponse? {
            guard case .answered(let response) = self.gateway.answerAtOnce(self.request(method, target, token: token, headers: headers, body: "")) else {
                return nil
            }
            return response
        }

        /// The request as the HTTP server would hand it over.
        func request(_ method: String, _ target: String, token: String? = nil, headers: [String: String] = [:], body: String = "") -> EdgeRequest {
            var fields = RequestFields(headers)
            if let token { fields["authorization"] = "Bearer \(token)" }
            let (path, query) = EdgeConnectionHandler.pathAndQuery(target)
            let id = self.sequence.add(1, ordering: .relaxed).newValue
            return EdgeRequest(method: method, path: path, query: query, headers: fields, body: Array(body.utf8), clientIP: "127.0.0.1", requestID: "req-\(id)")
        }
    }

    /// Runs `body` with a gateway over a ``RecordingUpstream``; with `limits`, its edge limiter asks the real
    /// `limiter` executable on a real redis-server, else no route's tier names a policy it checks.
    static func withGateway(
        upstream: RecordingUpstream = RecordingUpstream(), limits: Bool = false, _ body: @Sendable (Gateway<RecordingUpstream>) async throws -> Void
    ) async throws {
        try await Self.withGateway(over: upstream, limits: limits, body)
    }

    /// Runs `body` with a gateway over `upstream`, limited as ``withGateway(upstream:limits:_:)`` says.
    static func withGateway<Upstream: EdgeUpstream>(
        over upstream: Upstream, routes routeFile: String = Self.routes, limits: Bool = false, _ body: @Sendable (Gateway<Upstream>) async throws -> Void
    ) async throws {
        let logger = {
            var logger = Logger(label: "test.gateway")
            logger.logLevel = .critical
            return logger
        }()
        let issuer = try await TestTokenIssuer()
        let revocations = RevocationList()
        let verifier = AccessTokenVerifier(issuer: TestTokenIssuer.issuer, audience: "gatehouse", revocations: revocations)
        try await verifier.replaceKeys(jwksJSON: issuer.jwks)
        let jwks = issuer.jwks
        let authEvents = AuthEventApplier(
            revocations: revocations, verifier: verifier, fetchKeys: { jwks }, fetchRevocations: { (0, []) }, logger: logger
        )
        let routes = try RouteTable(yaml: routeFile, source: "routes.yaml")
        @Sendable func run(_ limiter: EdgeRateLimiter) async throws {
            let gateway = EdgeGateway(
                routes: routes, verifier: verifier, authEvents: authEvents, limiter: limiter, upstream: upstream,
                cache: ResponseCache(maxBytes: 1 << 20), logger: logger
            )
            try await body(Gateway(gateway: gateway, upstream: upstream, issuer: issuer, revocations: revocations))
        }
        if limits {
            try await withGatewayLimiter(policies: Self.policyFile) { client in
                try await run(EdgeRateLimiter(limiter: LimiterClient(rpc: client), policies: Self.policies, logger: logger))
            }
        } else {
            // No policy applies, so this limiter never calls its (unstarted) client.
            let client = RPCClient(
                configuration: RPCClientConfiguration(host: "127.0.0.1", port: try freeLoopbackPort(), secret: try RPCSecret("gateway-test-secret-0123456789")),
                logger: logger
            )
            try await run(EdgeRateLimiter(limiter: LimiterClient(rpc: client), policies: Self.policies, logger: logger))
        }
    }

    static func isProblem(_ response: EdgeResponse) -> Bool {
        response.header("Content-Type") == "application/problem+json"
    }

    // MARK: Authentication and authorization

    @Test func aRouteThatNeedsATokenRefusesACallerWithoutOneWith401AndABearerChallenge() async throws {
        try await Self.withGateway { gateway in
            let response = await gateway.send("GET", "/v1/private/p1")
            #expect(response.status == 401)
            #expect(Self.isProblem(response))
            #expect(response.header("WWW-Authenticate") == #"Bearer realm="gatehouse""#)
            #expect(gateway.upstream.planned.load(ordering: .relaxed) == 0, "the upstream is never asked")
        }
    }

    @Test func credentialsOfAnotherSchemeAreRefusedWithAChallengeWithoutAnErrorCode() async throws {
        try await Self.withGateway { gateway in
            let basic = ["authorization": "Basic dXNlcjpwYXNz"]
            let required = await gateway.send("GET", "/v1/private/p1", headers: basic)
            #expect(required.status == 401)
            #expect(required.header("WWW-Authenticate") == #"Bearer realm="gatehouse""#, "RFC 6750 §3.1: no error code for another scheme")
            let optional = await gateway.send("GET", "/v1/articles/a1", headers: basic)
            #expect(optional.status == 401, "refused on an optional route too: the caller believes it is authenticated")
            #expect(optional.header("WWW-Authenticate") == #"Bearer realm="gatehouse""#)
            #expect(String(decoding: optional.body, as: UTF8.self).contains("the Authorization header uses another scheme"))
        }
    }

    @Test func malformedExpiredAndRevokedTokensAreRefused401AsInvalidTokens() async throws {
        try await Self.withGateway { gateway in
            let expired = try await gateway.issuer.token(issuedAt: Date().addingTimeInterval(-3600), lifetime: .seconds(300))
            let revoked = try await gateway.issuer.token(id: "jti-revoked")
            _ = gateway.revocations.apply(RevocationEvent(version: 1, target: .token(jti: "jti-revoked", expiresAt: Int64(Date().timeIntervalSince1970) + 600)))
            let cases: [(token: String, reason: TokenRejection)] = [("not.a-jwt", .malformed), (expired, .expired), (revoked, .revoked)]
            for (token, reason) in cases {
                let response = await gateway.send("GET", "/v1/private/p1", token: token)
                #expect(response.status == 401, "\(reason)")
                #expect(Self.isProblem(response))
                #expect(
                    response.header("WWW-Authenticate") == #"Bearer realm="gatehouse", error="invalid_token", error_description=""# + reason.message + "\"",
                    "\(reason)"
                )
            }
            // A bad token is refused on a route where a token is optional too.
            #expect(await gateway.send("GET", "/v1/articles/a1", token: expired).status == 401)
            #expect(gateway.upstream.planned.load(ordering: .relaxed) == 0, "the upstream is never asked")
            // The same route answers a valid token.
            #expect(await gateway.send("GET", "/v1/private/p1", token: try await gateway.issuer.token()).status == 200)
        }
    }

    @Test func aCallerWithoutTheRoutesRoleOrScopeIsRefused403() async throws {
        try await Self.withGateway { gateway in
            let token = try await gateway.issuer.token()  // roles [user], scopes [read]
            let noRole = await gateway.send("GET", "/v1/admin/a1", token: token)
            #expect(noRole.status == 403)
            #expect(Self.isProblem(noRole))
            let noScope = await gateway.send("PUT", "/v1/drafts/d1", token: token, body: "{}")
            #expect(noScope.status == 403)
            #expect(Self.isProblem(noScope))
            #expect(noScope.header("WWW-Authenticate") == #"Bearer realm="gatehouse", error="insufficient_scope", scope="write""#)
            #expect(gateway.upstream.planned.load(ordering: .relaxed) == 0 && gateway.upstream.writes.load(ordering: .relaxed) == 0)
        }
    }

    // MARK: Limits

    @Test func aCallerOverTheLimitIsRefused429WithRateLimitHeadersWithoutAskingTheUpstream() async throws {
        try await Self.withGateway(limits: true) { gateway in
            let token = try await gateway.issuer.token(subject: "limited-alice")
            for _ in 0..<2 {
                let allowed = await gateway.send("GET", "/v1/limited/l1", token: token)
                #expect(allowed.status == 200)
                #expect(allowed.header("RateLimit-Policy") == #""per_user";q=2;w=60"#)
            }
            let refused = await gateway.send("GET", "/v1/limited/l1", token: token)
            #expect(refused.status == 429)
            #expect(Self.isProblem(refused))
            #expect(refused.header("RateLimit-Policy") == #""per_user";q=2;w=60"#)
            #expect(refused.header("RateLimit")?.hasPrefix(#""per_user";r=0;t="#) == true, "\(refused.header("RateLimit") ?? "no RateLimit")")
            let retryAfter = Int(refused.header("Retry-After") ?? "") ?? 0
            #expect((1...60).contains(retryAfter), "\(retryAfter)")
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 2, "the refused request never reached the upstream")
            // Another caller has a budget of its own.
            #expect(await gateway.send("GET", "/v1/limited/l1", token: try await gateway.issuer.token(subject: "limited-bob")).status == 200)
        }
    }

    @Test func aFloodingCallerIsAnswered429AtOnceAndAShortBalanceWaitsForTheLimiter() async throws {
        try await Self.withGateway(limits: true) { gateway in
            let token = try await gateway.issuer.token(subject: "counted-alice")
            // 2 a minute: each grant is the one unit asked for (no extra near the limit), so every request is short.
            #expect(await gateway.send("GET", "/v1/counted/c1", token: token).status == 200)
            #expect(gateway.sendAtOnce("GET", "/v1/counted/c1", token: token) == nil, "short of units: the limiter must be asked")
            let second = await gateway.send("GET", "/v1/counted/c1", token: token)
            #expect(second.status == 200 && second.header("Cache-Status")?.hasPrefix("gatehouse; hit") == true, "the short request acquired as usual")
            #expect(await gateway.send("GET", "/v1/counted/c1", token: token).status == 429)
            let repeated = try #require(gateway.sendAtOnce("GET", "/v1/counted/c1", token: token), "a remembered denial needs no wait")
            #expect(repeated.status == 429 && Self.isProblem(repeated))
            #expect(repeated.header("RateLimit-Policy") == #""per_user";q=2;w=60"#)
            #expect(repeated.header("RateLimit")?.hasPrefix(#""per_user";r=0;t="#) == true, "\(repeated.header("RateLimit") ?? "no RateLimit")")
            #expect(Int(repeated.header("Retry-After") ?? "").map { (1...60).contains($0) } == true)
            #expect(repeated.header("X-Request-ID")?.hasPrefix("req-") == true)
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 1)
        }
    }

    // MARK: Cache

    @Test func aFreshHitForAKnownCallerIsAnsweredAtOnceExactlyAsTheTaskWouldAnswerIt() async throws {
        try await Self.withGateway { gateway in
            // A miss asks the upstream: not at once. Its route match is handed on, and the task answers it.
            let first = gateway.request("GET", "/v1/articles/a1")
            guard case .later(let matched?) = gateway.gateway.answerAtOnce(first), case .route(let route, let parameters) = matched else {
                Issue.record("a miss is left to the task, with its route match")
                return
            }
            #expect(route.path == "/v1/{collection}/{id}" && parameters["id"] == "a1")
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 0)
            let miss = await gateway.gateway.handle(first, matched: matched)
            let viaTask = await gateway.send("GET", "/v1/articles/a1")
            let atOnce = try #require(gateway.sendAtOnce("GET", "/v1/articles/a1"))
            #expect(atOnce.status == 200 && atOnce.body == miss.body)
            #expect(atOnce.headers.map(\.name) == viaTask.headers.map(\.name), "the same fields in the same order")
            for name in ["Content-Type", "ETag", "Cache-Status"] { #expect(atOnce.header(name) == viaTask.header(name), "\(name)") }
            #expect(atOnce.header("X-Request-ID")?.hasPrefix("req-") == true && atOnce.header("X-Request-ID") != viaTask.header("X-Request-ID"))
            #expect(try #require(gateway.sendAtOnce("HEAD", "/v1/articles/a1")).header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            let etag = try #require(miss.header("ETag"))
            #expect(gateway.sendAtOnce("GET", "/v1/articles/a1", headers: ["if-none-match": etag])?.status == 304)
            #expect(gateway.sendAtOnce("GET", "/v1/articles/a1", headers: ["if-match": #""0""#])?.status == 412)
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 1)

            // A token is known at once only once verified: its first request takes the task's path.
            let token = try await gateway.issuer.token(subject: "alice")
            #expect(gateway.sendAtOnce("GET", "/v1/articles/a1", token: token) == nil)
            #expect(await gateway.send("GET", "/v1/articles/a1", token: token).status == 200)
            #expect(gateway.sendAtOnce("GET", "/v1/articles/a1", token: token)?.status == 200)
            // What the task refuses, only the task answers: a bad token, a write, a route that does not cache.
            #expect(gateway.sendAtOnce("GET", "/v1/articles/a1", token: "not-a-token") == nil)
            guard case .later(matched: nil) = gateway.gateway.answerAtOnce(gateway.request("PUT", "/v1/articles/a1", token: token)) else {
                Issue.record("a write is left to the task, unmatched")
                return
            }
            #expect(gateway.sendAtOnce("GET", "/v1/private/p1", token: token) == nil)
        }
    }

    @Test func aBrowserOnAnAllowedOriginHasItsPreflightAnsweredAtTheEdgeAndMayReadEveryAnswer() async throws {
        try await Self.withGateway { gateway in
            let origin = ["origin": "https://app.example.com"]
            let preflight = await gateway.send(
                "OPTIONS", "/v1/shared/a",
                headers: origin.merging(["access-control-request-method": "PUT", "access-control-request-headers": "authorization, content-type"]) { $1 }
            )
            #expect(preflight.status == 204, "answered without a token and without the upstream")
            #expect(preflight.header("access-control-allow-origin") == "https://app.example.com")
            #expect(preflight.header("access-control-allow-methods") == "PUT")
            #expect(preflight.header("access-control-allow-headers") == "authorization, content-type")
            #expect(preflight.header("access-control-allow-credentials") == "true")
            #expect(gateway.upstream.planned.load(ordering: .relaxed) == 0 && gateway.upstream.writes.load(ordering: .relaxed) == 0)

            // Errors carry the permission too, so the script can read why it was refused.
            let refused = await gateway.send("PUT", "/v1/shared/a", headers: origin, body: "{}")
            #expect(refused.status == 401)
            #expect(refused.header("access-control-allow-origin") == "https://app.example.com")

            let read = await gateway.send("GET", "/v1/shared/a", headers: origin)
            #expect(read.status == 200)
            #expect(read.header("access-control-allow-origin") == "https://app.example.com")
            #expect(read.header("access-control-expose-headers")?.contains("RateLimit") == true)
            #expect(read.header("vary") == "Origin")
            // The cached answer, to another origin: no permission (it was never stored with the answer).
            let other = await gateway.send("GET", "/v1/shared/a", headers: ["origin": "https://evil.example"])
            #expect(other.header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            #expect(other.header("access-control-allow-origin") == nil)
            let disallowed = await gateway.send(
                "OPTIONS", "/v1/shared/a", headers: ["origin": "https://evil.example", "access-control-request-method": "GET"]
            )
            #expect(disallowed.status == 403)

            // A route without cors: a preflight is any OPTIONS, 405.
            let withoutCORS = await gateway.send("OPTIONS", "/v1/articles/a", headers: origin.merging(["access-control-request-method": "GET"]) { $1 })
            #expect(withoutCORS.status == 405)
            #expect(withoutCORS.header("access-control-allow-origin") == nil)
        }
    }

    @Test func aCachedReadAsksTheUpstreamOnceAndThenServesHits() async throws {
        try await Self.withGateway { gateway in
            let miss = await gateway.send("GET", "/v1/articles/a1")
            #expect(miss.status == 200)
            #expect(miss.header("Cache-Status") == "gatehouse; fwd=uri-miss; stored")
            for _ in 0..<3 {
                let hit = await gateway.send("GET", "/v1/articles/a1")
                #expect(hit.status == 200)
                #expect(hit.body == miss.body)
                #expect(hit.header("ETag") == #""1""#)
                #expect(hit.header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            }
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 1)
            // HEAD shares GET's entry.
            #expect(await gateway.send("HEAD", "/v1/articles/a1").header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 1)
        }
    }

    @Test func concurrentMissesForOneDocumentMakeOneUpstreamCall() async throws {
        let upstream = RecordingUpstream(holdingReads: true)
        try await Self.withGateway(upstream: upstream) { gateway in
            let responses = await withTaskGroup(of: EdgeResponse.self) { group in
                for _ in 0..<20 { group.addTask { await gateway.send("GET", "/v1/articles/hot") } }
                // Every request reached the upstream step and joined the one fetch in flight, then it lands.
                let deadline = ContinuousClock.now + .seconds(30)
                while upstream.planned.load(ordering: .relaxed) < 20, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
                try? await Task.sleep(for: .milliseconds(50))
                upstream.releaseReads()
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(responses.count == 20 && responses.allSatisfy { $0.status == 200 })
            #expect(responses.allSatisfy { $0.header("Cache-Status")?.hasPrefix("gatehouse; fwd=uri-miss") == true }, "all were misses")
            #expect(upstream.fetches.load(ordering: .relaxed) == 1, "one call for all of them")
        }
    }

    @Test func aConditionalGetWithTheCurrentEntityTagIsAnswered304WithoutABody() async throws {
        try await Self.withGateway { gateway in
            let current = await gateway.send("GET", "/v1/articles/a1")
            let etag = try #require(current.header("ETag"))
            let unchanged = await gateway.send("GET", "/v1/articles/a1", headers: ["if-none-match": etag])
            #expect(unchanged.status == 304)
            #expect(unchanged.body.isEmpty)
            #expect(unchanged.header("ETag") == etag)
            let changed = await gateway.send("GET", "/v1/articles/a1", headers: ["if-none-match": #""0""#])
            #expect(changed.status == 200)
            #expect(changed.body == current.body)
            #expect(await gateway.send("GET", "/v1/articles/a1", headers: ["if-match": #""0""#]).status == 412)
        }
    }

    // MARK: Upstream failure

    @Test func anUpstreamFailureReachesTheClientAsAProblemAndIsNotCached() async throws {
        try await Self.withGateway { gateway in
            for status in [503, 502] {
                gateway.upstream.answerReads(.problem(status, status == 503 ? "Service Unavailable" : "Bad Gateway", "the upstream failed"))
                let failed = await gateway.send("GET", "/v1/articles/down-\(status)")
                #expect(failed.status == status)
                #expect(Self.isProblem(failed))
                #expect(failed.header("Cache-Status") == "gatehouse; fwd=uri-miss", "not stored")
            }
            gateway.upstream.answerReads(RecordingUpstream.document(version: 1))
            #expect(await gateway.send("GET", "/v1/articles/down-503").status == 200, "the next request asks again")
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 3)
        }
    }

    @Test func aStaleEntryIsServedWhileTheUpstreamFailsWithinStaleIfError() async throws {
        try await Self.withGateway { gateway in
            let stored = await gateway.send("GET", "/v1/brief/b1")
            #expect(stored.status == 200)
            gateway.upstream.answerReads(.problem(503, "Service Unavailable", "the upstream is down"))
            // Once the entry's 200 ms are over, the upstream is asked again, fails, and the stale entry answers.
            let deadline = ContinuousClock.now + .seconds(30)
            var response = await gateway.send("GET", "/v1/brief/b1")
            while response.header("Cache-Status")?.contains("stale-if-error") != true, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                response = await gateway.send("GET", "/v1/brief/b1")
            }
            #expect(response.status == 200)
            #expect(response.body == stored.body)
            #expect(response.header("Cache-Status") == #"gatehouse; hit; detail="stale-if-error""#)
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) >= 2, "the upstream was asked again")
        }
    }

    // MARK: Writes

    @Test func aWriteDropsTheCachedEntriesItNamesAndLeavesTheOthers() async throws {
        try await Self.withGateway { gateway in
            let token = try await gateway.issuer.token()
            for target in ["/v1/articles/a1", "/v1/articles/a2", "/v1/articles", "/v1/notes/n1"] {
                #expect(await gateway.send("GET", target).status == 200)
            }
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 4)
            let written = await gateway.send("PUT", "/v1/articles/a1", token: token, body: #"{"title":"new"}"#)
            #expect(written.status == 200)
            #expect(gateway.upstream.writes.load(ordering: .relaxed) == 1)
            // The document and its collection's listing are asked again; the others are still hits.
            #expect(await gateway.send("GET", "/v1/articles/a1").header("Cache-Status") == "gatehouse; fwd=uri-miss; stored")
            #expect(await gateway.send("GET", "/v1/articles").header("Cache-Status") == "gatehouse; fwd=uri-miss; stored")
            #expect(await gateway.send("GET", "/v1/articles/a2").header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            #expect(await gateway.send("GET", "/v1/notes/n1").header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            #expect(gateway.upstream.fetches.load(ordering: .relaxed) == 6)
            // A write the upstream refuses changed nothing, so nothing is dropped.
            gateway.upstream.answerWrites(.problem(409, "Conflict", "version mismatch"))
            #expect(await gateway.send("PUT", "/v1/articles/a2", token: token, body: "{}").status == 409)
            #expect(await gateway.send("GET", "/v1/articles/a2").header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
        }
    }

    // MARK: The data service as the upstream

    @Test func aDataServiceThatCannotBeReachedIsAnswered503WithRetryAfterAndABodyNotUTF8Is400() async throws {
        var logger = Logger(label: "test.gateway.data")
        logger.logLevel = .critical
        let data = RPCClient(
            configuration: RPCClientConfiguration(
                host: "127.0.0.1", port: try freeLoopbackPort(), secret: try RPCSecret("gateway-data-test-secret-0123456789"), connectTimeout: .seconds(5)
            ),
            logger: logger
        )
        try await withThrowingTaskGroup { group in
            group.addTask { try await data.run() }
            try await Self.withGateway(over: DataServiceUpstream(data: DataClient(rpc: data), logger: logger)) { gateway in
                let token = try await gateway.issuer.token()
                for (method, target) in [("GET", "/v1/articles/a1"), ("GET", "/v1/articles"), ("PUT", "/v1/articles/a1")] {
                    let response = await gateway.send(method, target, token: token, body: "{}")
                    #expect(response.status == 503, "\(method) \(target)")
                    #expect(Self.isProblem(response))
                    #expect(response.header("Retry-After") == "1")
                    #expect(!String(decoding: response.body, as: UTF8.self).contains("127.0.0.1"), "no internal address reaches the client")
                }
                // A body that is not UTF-8 is refused before the data service is asked, never stored altered.
                let notUTF8 = await gateway.gateway.handle(
                    EdgeRequest(
                        method: "PUT", path: "/v1/articles/a1", query: nil, headers: ["authorization": "Bearer \(token)"],
                        body: Array(#"{"a":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8), clientIP: "127.0.0.1", requestID: "utf8"
                    )
                )
                #expect(notUTF8.status == 400)
                #expect(String(decoding: notUTF8.body, as: UTF8.self).contains("invalid body: it is not valid UTF-8"))
            }
            group.cancelAll()
        }
    }
}
