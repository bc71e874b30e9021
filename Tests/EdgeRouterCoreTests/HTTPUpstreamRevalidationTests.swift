@testable import EdgeRouterCore
import Foundation
import Testing

/// An HTTP upstream's cache entries through the gateway, in front of a real HTTP server on loopback
/// (``TestUpstreamServer``): the answer's header fields replayed on a hit, and stale entries revalidated
/// with conditional requests (`If-None-Match`, `If-Modified-Since`), a `304` refreshing the entry.
@Suite(.timeLimit(.minutes(2)))
struct HTTPUpstreamRevalidationTests {
    static func routes(port: Int) -> String {
        """
        routes:
          - path: /etag/{id}
            methods: [GET]
            auth: none
            cache: {ttl: 30s, stale_if_error: 1m}
            upstream: {addresses: [http://127.0.0.1:\(port)]}
          - path: /swr/{id}
            methods: [GET]
            auth: none
            cache: {ttl: 30s, stale_while_revalidate: 1m}
            upstream: {addresses: [http://127.0.0.1:\(port)], path_prefix_rewrite: {from: /swr, to: /etag}}
          - path: /modified/{id}
            methods: [GET]
            auth: none
            cache: {ttl: 30s}
            upstream: {addresses: [http://127.0.0.1:\(port)]}
        """
    }

    static func withUpstream(_ body: @Sendable (EdgeGatewayTests.Gateway<RecordingUpstream>, TestUpstreamServer) async throws -> Void) async throws {
        let server = try await TestUpstreamServer.start()
        defer { server.stop() }
        try await EdgeGatewayTests.withGateway(over: RecordingUpstream(), routes: Self.routes(port: server.port)) { gateway in
            try await body(gateway, server)
        }
    }

    static func text(_ response: EdgeResponse) -> String {
        String(decoding: response.body, as: UTF8.self)
    }

    /// Waits until `condition` holds, for up to 10 s.
    static func eventually(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    }

    @Test func theUpstreamsHeaderFieldsComeBackOnAHit() async throws {
        try await Self.withUpstream { gateway, server in
            let miss = await gateway.send("GET", "/etag/max-age_60")
            let hit = await gateway.send("GET", "/etag/max-age_60")
            #expect(server.requests == 1)
            #expect(hit.header("Cache-Status") == "gatehouse; hit", "\(hit.headers)")
            #expect(hit.body == miss.body)
            #expect(hit.header("Link") == #"</next>; rel="next""#)
            #expect(hit.header("X-Upstream-Note") == "answer 1")
            #expect(hit.header("ETag") == #""v1""# && hit.header("Content-Type") == "text/plain" && hit.header("Cache-Control") == "max-age=60")
            #expect(hit.header("Age") != nil)
            #expect(hit.headers.filter { $0.name.lowercased() == "age" }.count == 1, "the edge's Age only: \(hit.headers)")
        }
    }

    @Test func theKeptFieldsCountAgainstTheCachesBudgetAndTheEdgesOwnAreNotKept() {
        let fields: [(name: String, value: String)] = [
            ("Content-Type", "text/plain"), ("ETag", #""v1""#), ("Link", String(repeating: "l", count: 1_000)), ("Date", "Mon, 07 Dec 2026 08:00:00 GMT"),
            ("Age", "3"), ("Server", "upstream"), ("X-Request-ID", "req-1"), ("RateLimit", "limit=1"), ("Cache-Status", "origin; hit"),
        ]
        let entry = CachedResponse(status: 200, body: [], upstreamFields: fields)
        #expect(entry.upstreamFields?.map(\.name) == ["Link"])
        #expect(entry.etag == #""v1""# && entry.contentType == "text/plain")
        let bare = CachedResponse(status: 200, body: [], etag: #""v1""#, contentType: "text/plain")
        #expect(entry.cost(key: "k", tags: []) >= bare.cost(key: "k", tags: []) + 1_004)
    }

    @Test func aCookieOfOneCallerIsNeverHandedToAnother() async throws {
        try await Self.withUpstream { gateway, server in
            let first = await gateway.send("GET", "/etag/max-age_60?cookie")
            let second = await gateway.send("GET", "/etag/max-age_60?cookie")
            #expect(first.header("Set-Cookie") == "session=secret-1")
            #expect(second.header("Set-Cookie") == "session=secret-2", "the second caller got its own answer, not the first one's cookie")
            #expect(server.requests == 2, "an answer setting a cookie is not stored")
        }
    }

    @Test func aStaleEntryWithAnETagIsConfirmedBy304AndServedFreshAgain() async throws {
        try await Self.withUpstream { gateway, server in
            // Fresh for 1 s; the 304 says 60 s.
            let target = "/etag/max-age_1?then=max-age_60"
            let stored = await gateway.send("GET", target)
            #expect(stored.header("Cache-Status") == "gatehouse; fwd=uri-miss; stored")
            try await Task.sleep(for: .milliseconds(1_200))
            // Past its max-age, and the route serves nothing stale but on an error.
            let revalidated = await gateway.send("GET", target)
            #expect(revalidated.status == 200)
            #expect(revalidated.body == stored.body, "the stored body: \(Self.text(revalidated))")
            #expect(revalidated.header("Cache-Status") == "gatehouse; fwd=stale; fwd-status=304; stored", "\(revalidated.headers)")
            #expect(revalidated.header("X-Upstream-Note") == "confirmed 2", "the 304's fields update the entry's")
            #expect(revalidated.header("Cache-Control") == "max-age=60")
            #expect(server.conditionalRequests == 1 && server.notModified == 1 && server.requests == 2)
            // Fresh again for the 304's max-age: a hit, with the refreshed fields.
            let hit = await gateway.send("GET", target)
            #expect(hit.header("Cache-Status") == "gatehouse; hit")
            #expect(hit.body == stored.body && hit.header("X-Upstream-Note") == "confirmed 2" && hit.header("Link") == #"</next>; rel="next""#)
            #expect(server.requests == 2)
        }
    }

    @Test func aStaleEntryWithLastModifiedIsRevalidatedWithIfModifiedSince() async throws {
        try await Self.withUpstream { gateway, server in
            let target = "/modified/max-age_1?then=max-age_60"
            let stored = await gateway.send("GET", target)
            #expect(stored.header("Last-Modified") == "Sun, 01 Nov 2026 08:49:37 GMT")
            try await Task.sleep(for: .milliseconds(1_200))
            let revalidated = await gateway.send("GET", target)
            #expect(revalidated.body == stored.body)
            #expect(revalidated.header("Cache-Status") == "gatehouse; fwd=stale; fwd-status=304; stored", "\(revalidated.headers)")
            #expect(server.conditionalRequests == 1 && server.notModified == 1)
            #expect(await gateway.send("GET", target).header("Cache-Status") == "gatehouse; hit")
            #expect(server.requests == 2)
        }
    }

    @Test func a200ToTheRevalidationReplacesTheEntry() async throws {
        try await Self.withUpstream { gateway, server in
            let old = await gateway.send("GET", "/etag/max-age_1?then=max-age_60")
            server.publish(version: 2)
            try await Task.sleep(for: .milliseconds(1_200))
            let replaced = await gateway.send("GET", "/etag/max-age_1?then=max-age_60")
            #expect(Self.text(replaced) == "version 2 answer 2", "\(Self.text(old)) → \(Self.text(replaced))")
            #expect(replaced.header("Cache-Status") == "gatehouse; fwd=stale; fwd-status=200; stored")
            #expect(server.conditionalRequests == 1 && server.notModified == 0)
            let hit = await gateway.send("GET", "/etag/max-age_1?then=max-age_60")
            #expect(Self.text(hit) == "version 2 answer 2" && hit.header("ETag") == #""v2""# && hit.header("Cache-Status") == "gatehouse; hit")
        }
    }

    @Test func aNoCacheAnswerIsRevalidatedBeforeEveryUse() async throws {
        try await Self.withUpstream { gateway, server in
            let stored = await gateway.send("GET", "/etag/no-cache")
            #expect(stored.header("Cache-Status") == "gatehouse; fwd=uri-miss; stored")
            for round in 1...3 {
                let used = await gateway.send("GET", "/etag/no-cache")
                #expect(used.body == stored.body)
                #expect(used.header("Cache-Status")?.hasPrefix("gatehouse; fwd=stale; fwd-status=304") == true, "\(used.headers)")
                #expect(server.conditionalRequests == round && server.notModified == round)
            }
            // The client's own If-None-Match is evaluated by the gateway on the answer it serves.
            let notModified = await gateway.send("GET", "/etag/no-cache", headers: ["if-none-match": #""v1""#])
            #expect(notModified.status == 304 && notModified.body.isEmpty)
            #expect(server.conditionalRequests == 4, "revalidated with the entry's own validator first")
            server.publish(version: 3)
            #expect(Self.text(await gateway.send("GET", "/etag/no-cache")) == "version 3 answer 6", "a change is seen at the next use")
        }
    }

    @Test func withinStaleWhileRevalidateTheRevalidationRunsInTheBackground() async throws {
        try await Self.withUpstream { gateway, server in
            let target = "/swr/max-age_1?then=max-age_60"
            let stored = await gateway.send("GET", target)
            try await Task.sleep(for: .milliseconds(1_200))
            let stale = await gateway.send("GET", target)
            #expect(stale.body == stored.body)
            #expect(stale.header("Cache-Status") == #"gatehouse; hit; detail="stale-while-revalidate""#)
            // The background revalidation's 304 refreshes the entry: a hit from then on.
            var hit = stale
            let deadline = ContinuousClock.now + .seconds(10)
            while hit.header("Cache-Status") != "gatehouse; hit", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                hit = await gateway.send("GET", target)
            }
            #expect(hit.header("Cache-Status") == "gatehouse; hit" && hit.header("X-Upstream-Note") == "confirmed 2", "\(hit.headers)")
            #expect(hit.body == stored.body)
            #expect(server.conditionalRequests == 1 && server.requests == 2, "revalidated once, never fetched again")
        }
    }

    @Test func anInvalidationWhileTheRevalidationIsUnderWayWins() async throws {
        try await Self.withUpstream { gateway, server in
            _ = await gateway.send("GET", "/etag/max-age_1?slow")
            try await Task.sleep(for: .milliseconds(1_200))
            // The 304 comes 500 ms late; the entry's tag is invalidated meanwhile (a write, an event).
            async let revalidated = gateway.send("GET", "/etag/max-age_1?slow")
            try await Self.eventually { server.conditionalRequests == 1 }
            gateway.gateway.cache.invalidate([.path("/etag/max-age_1")])
            #expect(await revalidated.header("Cache-Status") == "gatehouse; fwd=stale; fwd-status=304", "served to its asker, not stored")
            let after = await gateway.send("GET", "/etag/max-age_1?slow")
            #expect(after.header("Cache-Status") == "gatehouse; fwd=uri-miss; stored", "the invalidated entry is gone: \(after.headers)")
            #expect(server.conditionalRequests == 1 && server.requests == 3)
        }
    }

    @Test func anUpstreamFailingTheRevalidationLetsStaleIfErrorServeTheEntry() async throws {
        try await Self.withUpstream { gateway, server in
            let stored = await gateway.send("GET", "/etag/max-age_1")
            server.failEveryRequest()
            try await Task.sleep(for: .milliseconds(1_200))
            let stale = await gateway.send("GET", "/etag/max-age_1")
            #expect(stale.status == 200 && stale.body == stored.body)
            #expect(stale.header("Cache-Status") == #"gatehouse; hit; detail="stale-if-error""#)
        }
    }
}
