@testable import EdgeRouterCore
import Foundation
import Testing

/// HTTP upstream routes through the gateway, in front of a real HTTP server on loopback
/// (``TestUpstreamServer``): tokens, limits and the cache as for the data service, the upstream's
/// `Cache-Control` respected, a write dropping the cached read, the identity fields, `502` and `504`.
@Suite(.timeLimit(.minutes(2)))
struct HTTPUpstreamRouteTests {
    static func routes(port: Int, deadPort: Int) -> String {
        """
        routes:
          - path: /api/echo
            methods: [GET, POST]
            auth: optional
            upstream: {addresses: [http://127.0.0.1:\(port)], path_prefix_rewrite: {from: /api, to: /}}
          - path: /cache/{id}
            methods: [GET]
            auth: optional
            cache: {ttl: 30s, stale_if_error: 1m}
            upstream: {addresses: [http://127.0.0.1:\(port)]}
          - path: /cache/{id}
            methods: [PUT, PATCH]
            auth: optional
            upstream: {addresses: [http://127.0.0.1:\(port)]}
          - path: /vary
            methods: [GET]
            auth: none
            cache: {ttl: 30s}
            upstream: {addresses: [http://127.0.0.1:\(port)]}
          - path: /status
            methods: [GET]
            upstream: {addresses: [http://127.0.0.1:\(port)]}
          - path: /limited/{id}
            methods: [GET]
            tiers: {user: [per_user]}
            upstream: {addresses: [http://127.0.0.1:\(port)], path_prefix_rewrite: {from: /limited, to: /cache}}
          - path: /slow
            methods: [GET]
            auth: none
            upstream: {addresses: [http://127.0.0.1:\(port)], timeouts: {first_byte: 200ms, total: 2s}}
          - path: /dead
            methods: [GET]
            auth: none
            upstream: {addresses: [http://127.0.0.1:\(deadPort)], timeouts: {connect: 1s}}
        """
    }

    /// Runs `body` with a gateway whose upstream routes go to a fresh ``TestUpstreamServer``.
    static func withUpstream(
        limits: Bool = false, _ body: @Sendable (EdgeGatewayTests.Gateway<RecordingUpstream>, TestUpstreamServer) async throws -> Void
    ) async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        let dead = try await TestUpstreamServer.start()
        let deadPort = dead.port
        dead.stop()
        try await EdgeGatewayTests.withGateway(over: RecordingUpstream(), routes: Self.routes(port: server.port, deadPort: deadPort), limits: limits) { gateway in
            try await body(gateway, server)
        }
    }

    static func text(_ response: EdgeResponse) -> String {
        String(decoding: response.body, as: UTF8.self)
    }

    @Test func theVerifiedIdentityReachesTheUpstreamAndAClientsOwnIdentityFieldsNever() async throws {
        try await Self.withUpstream { gateway, _ in
            let token = try await gateway.issuer.token(subject: "alice")
            let forged = ["x-gatehouse-sub": "mallory", "x-gatehouse-roles": "admin", "x-forwarded-for": "10.9.9.9"]
            let response = await gateway.send("POST", "/api/echo", token: token, headers: forged, body: "{}")
            #expect(response.status == 200, "the path /api/echo was rewritten to the server's /echo")
            let seen = Self.text(response)
            #expect(seen.contains("X-Gatehouse-Sub: alice"))
            #expect(seen.contains("X-Gatehouse-Roles: user"))
            #expect(!seen.contains("mallory") && !seen.contains("admin") && !seen.contains("10.9.9.9"), "\(seen)")
            #expect(seen.contains("X-Forwarded-For: 127.0.0.1") && seen.contains("Via: 1.1 gatehouse"))
            #expect(response.header("Via") == "1.1 gatehouse")
            // An anonymous caller's forged identity is dropped too, and none is added.
            let anonymous = Self.text(await gateway.send("GET", "/api/echo", headers: forged))
            #expect(!anonymous.lowercased().contains("x-gatehouse-"), "\(anonymous)")
        }
    }

    @Test func aRouteThatNeedsATokenRefusesWithoutReachingTheUpstream() async throws {
        try await Self.withUpstream { gateway, server in
            let refused = await gateway.send("GET", "/status?code=200")
            #expect(refused.status == 401)
            #expect(server.requests == 0, "the upstream was never asked")
            let token = try await gateway.issuer.token()
            #expect(await gateway.send("GET", "/status?code=200", token: token).status == 200)
        }
    }

    @Test func aCallerOverTheLimitIsRefused429WithoutReachingTheUpstream() async throws {
        try await Self.withUpstream(limits: true) { gateway, server in
            let token = try await gateway.issuer.token(subject: "limited-bob")
            for _ in 0..<2 { #expect(await gateway.send("GET", "/limited/no-store", token: token).status == 200) }
            let refused = await gateway.send("GET", "/limited/no-store", token: token)
            #expect(refused.status == 429)
            #expect(refused.header("RateLimit") != nil && refused.header("Retry-After") != nil)
            #expect(server.requests == 2, "the refused request never reached the upstream")
        }
    }

    @Test func theUpstreamsCacheControlDecidesWhatIsCachedAndForHowLong() async throws {
        try await Self.withUpstream { gateway, server in
            let first = await gateway.send("GET", "/cache/max-age_60")
            let second = await gateway.send("GET", "/cache/max-age_60")
            #expect(first.status == 200 && second.status == 200)
            #expect(second.body == first.body, "served from the cache")
            #expect(second.header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            #expect(server.requests == 1)
            for directive in ["no-store", "private", "no-cache"] {
                let before = server.requests
                _ = await gateway.send("GET", "/cache/\(directive)")
                let again = await gateway.send("GET", "/cache/\(directive)")
                #expect(server.requests == before + 2, "\(directive): asked each time")
                #expect(again.header("Cache-Status")?.contains("hit") == false)
            }
            // max-age below the route's ttl is the entry's lifetime.
            _ = await gateway.send("GET", "/cache/max-age_1")
            let before = server.requests
            try await Task.sleep(for: .milliseconds(1200))
            _ = await gateway.send("GET", "/cache/max-age_1")
            #expect(server.requests == before + 1, "stale after its max-age, asked again")
            // A request with Authorization is not shared: the route does not say scope: public.
            let token = try await gateway.issuer.token()
            let authorized = server.requests
            _ = await gateway.send("GET", "/cache/max-age_30", token: token)
            _ = await gateway.send("GET", "/cache/max-age_30", token: token)
            #expect(server.requests == authorized + 2)
        }
    }

    @Test func theFieldsAnAnswerVariesOnArePartOfTheCacheKey() async throws {
        try await Self.withUpstream { gateway, server in
            let json = ["accept": "application/json"]
            // The first answer teaches the route what it varies on; from then on, one entry per Accept.
            _ = await gateway.send("GET", "/vary", headers: json)
            let stored = await gateway.send("GET", "/vary", headers: json)
            let hit = await gateway.send("GET", "/vary", headers: json)
            #expect(hit.body == stored.body && Self.text(hit).hasPrefix("application/json"))
            #expect(hit.header("Cache-Status")?.hasPrefix("gatehouse; hit") == true)
            let text = await gateway.send("GET", "/vary", headers: ["accept": "text/plain"])
            #expect(Self.text(text).hasPrefix("text/plain"), "another Accept is not served the JSON entry: \(Self.text(text))")
            #expect(server.requests == 3)
        }
    }

    @Test func aWriteThroughTheRouteDropsTheCachedRead() async throws {
        try await Self.withUpstream { gateway, server in
            let cached = await gateway.send("GET", "/cache/max-age_60")
            #expect(await gateway.send("GET", "/cache/max-age_60").body == cached.body)
            let written = await gateway.send("PUT", "/cache/max-age_60", body: #"{"v":2}"#)
            #expect(written.status == 204)
            let after = await gateway.send("GET", "/cache/max-age_60")
            #expect(after.body != cached.body, "the write dropped the entry: the upstream was asked again")
            #expect(server.requests == 3)
        }
    }

    @Test func aPathWithADotSegmentOrAnEncodedNULIsRefused400BeforeRoutingAndNeverReachesTheUpstream() async throws {
        try await Self.withUpstream { gateway, server in
            // Each would match /cache/{id}, and could mean another resource to an upstream that resolves it.
            for target in ["/cache/..", "/cache/.", "/cache/%2e%2E", "/cache/..%2Fadmin", "/cache/..%5cadmin", "/cache/.%2e?x=1", "/cache/a%00"] {
                let refused = await gateway.send("GET", target)
                #expect(refused.status == 400, "\(target)")
                #expect(EdgeGatewayTests.isProblem(refused))
                #expect(Self.text(refused).contains("the path /cache/"), "\(Self.text(refused))")
            }
            #expect(server.requests == 0, "the upstream was never asked")
            // An encoded slash that makes no dot segment, and dots inside a segment, are forwarded as sent.
            #expect(await gateway.send("GET", "/cache/no-store%2Fx").status == 200)
            #expect(await gateway.send("GET", "/cache/no-store...").status == 200)
            #expect(server.requests == 2)
        }
    }

    @Test func aDeadUpstreamIs502AndAStaleEntryIsServedWithinStaleIfErrorWhenTheUpstreamFails() async throws {
        try await Self.withUpstream { gateway, server in
            let dead = await gateway.send("GET", "/dead")
            #expect(dead.status == 502)
            #expect(EdgeGatewayTests.isProblem(dead))
            #expect(!Self.text(dead).contains("127.0.0.1"), "no internal address in the problem")
            // An entry past its max-age is served while the upstream answers 503 (the route's stale_if_error).
            let cached = await gateway.send("GET", "/cache/max-age_1")
            server.failEveryRequest()
            try await Task.sleep(for: .milliseconds(1200))
            let stale = await gateway.send("GET", "/cache/max-age_1")
            #expect(stale.status == 200)
            #expect(stale.body == cached.body)
            #expect(stale.header("Cache-Status")?.contains("stale-if-error") == true, "\(stale.headers)")
        }
    }

    @Test func aSlowUpstreamIs504AtTheRoutesTimeout() async throws {
        try await Self.withUpstream { gateway, _ in
            let slow = await gateway.send("GET", "/slow?ms=1500")
            #expect(slow.status == 504)
            #expect(EdgeGatewayTests.isProblem(slow))
            #expect(await gateway.send("GET", "/slow?ms=10").status == 200)
        }
    }
}
