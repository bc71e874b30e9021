import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseSystemTests {
    /// The edge router process with every other service running (``GatehouseSystem``).
    @Suite(.timeLimit(.minutes(3)))
    struct EdgeRouterSystemTests {
        @Test func tokensAreCheckedLocallyAndEachFailureHasItsAnswer() async throws {
            try await GatehouseSystem.run { system in
                let token = try await system.adminToken()
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token).status == 200)

                let missing = try await system.edge(0, "PUT", "/v1/articles/doc-000001", body: "{}")
                #expect(missing.status == 401)
                #expect(missing.headers["www-authenticate"] == #"Bearer realm="gatehouse""#)
                let malformed = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: "not-a-jwt")
                #expect(malformed.status == 401)
                #expect(malformed.headers["www-authenticate"]?.contains(#"error="invalid_token""#) == true)
                #expect(malformed.headers["content-type"] == "application/problem+json")
                let parts = token.split(separator: ".").map(String.init)
                let none = [base64URL(#"{"alg":"none","typ":"at+jwt","kid":"x"}"#), parts[1], "AA"].joined(separator: ".")
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: none).status == 401)
                let tampered = [parts[0], base64URL(#"{"sub":"root","roles":["admin"]}"#), parts[2]].joined(separator: ".")
                let forged = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: tampered)
                #expect(forged.status == 401)
                #expect(forged.body.contains("signature"), "\(forged.body)")

                // Revoked at the issuer: refused by the edge within milliseconds.
                let revoke = try await system.issuer("POST", "/oauth/revoke", body: "token=\(token)")
                #expect(revoke.status == 200)
                let deadline = ContinuousClock.now + .seconds(3)
                var status = 0
                while ContinuousClock.now < deadline {
                    status = try await system.edge(0, "GET", "/v1/articles/doc-000002", token: token).status
                    if status == 401 { break }
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(status == 401, "the revoked token is refused")
                let metrics = try system.edgeMetrics()
                #expect(prometheusSample(metrics, "gatehouse_edge_auth_failures_total", ["reason": "revoked"]) ?? 0 >= 1)
                #expect(prometheusSample(metrics, "gatehouse_edge_auth_failures_total", ["reason": "bad_signature"]) == 1)

                // SIGTERM: the edge drains and exits cleanly.
                system.edges[0].send(signal: SIGTERM)
                #expect(try await system.edges[0].waitForExit(timeout: .seconds(10)) == .exited(0))
            }
        }

        @Test func aPublicRouteAllowsExactlyTwentyAMinuteAcrossTwoEdges() async throws {
            try await GatehouseSystem.run(edges: 2) { system in
                var statuses: [Int] = []
                var retryAfter: [String] = []
                for index in 0..<25 {
                    let response = try await system.edge(index % 2, "GET", "/v1/articles/doc-0000\(String(format: "%02d", index % 5 + 1))")
                    statuses.append(response.status)
                    if response.status == 429 {
                        retryAfter.append(response.headers["retry-after"] ?? "")
                        #expect(response.headers["content-type"] == "application/problem+json")
                        #expect(response.body.contains("public"))
                    } else {
                        #expect(response.headers["ratelimit-policy"] == #""public";q=20;w=60"#)
                    }
                }
                #expect(statuses.filter { $0 == 200 }.count == 20, "\(statuses)")
                #expect(statuses.suffix(5) == [429, 429, 429, 429, 429], "\(statuses)")
                #expect(retryAfter.allSatisfy { (Int($0) ?? 0) >= 1 }, "\(retryAfter)")
            }
        }

        @Test func anAddressThatSendsForgedTokensIsRefusedBeforeAnySignatureWork() async throws {
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_TRUSTED_PROXIES": "127.0.0.1"]) { system in
                let token = try await system.adminToken()
                let parts = token.split(separator: ".").map(String.init)
                let forged = [parts[0], base64URL(#"{"sub":"root"}"#), parts[2]].joined(separator: ".")
                let attacker = [("X-Forwarded-For", "203.0.113.66")]
                // config/policies.yaml: auth_failures allows 10 a minute per address.
                var statuses: [Int] = []
                for _ in 0..<12 { statuses.append(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: forged, headers: attacker).status) }
                #expect(statuses.prefix(10).allSatisfy { $0 == 401 }, "\(statuses)")
                #expect(statuses.last == 429, "\(statuses)")
                let checked = prometheusSample(try system.edgeMetrics(), "gatehouse_edge_auth_failures_total", ["reason": "bad_signature"]) ?? 0
                _ = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: forged, headers: attacker)
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_auth_failures_total", ["reason": "bad_signature"]) == checked, "no signature work")
                // The attacker's address is throttled, not everyone: a valid token from elsewhere works.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token, headers: [("X-Forwarded-For", "198.51.100.3")]).status == 200)
            }
        }

        @Test func personalListingsAreCachedPerSubjectAndNeverServedToAnyoneElse() async throws {
            try await GatehouseSystem.run { system in
                try await system.addUser("alice", password: "alice-password-1")
                try await system.addUser("bob", password: "bob-password-12")
                let alice = try await system.token(user: "alice", password: "alice-password-1")
                let bob = try await system.token(user: "bob", password: "bob-password-12")
                #expect(try await system.edge(0, "POST", "/v1/notes", token: alice, body: #"{"text":"alice's secret"}"#).status == 201)
                #expect(try await system.edge(0, "POST", "/v1/notes", token: bob, body: #"{"text":"bob's note"}"#).status == 201)
                let first = try await system.edge(0, "GET", "/v1/mine/notes", token: alice)
                #expect(first.status == 200 && first.body.contains("alice's secret") && !first.body.contains("bob"), "\(first.body)")
                #expect(try await system.edge(0, "GET", "/v1/mine/notes", token: alice).headers["cache-status"]?.hasPrefix("gatehouse; hit") == true)
                let other = try await system.edge(0, "GET", "/v1/mine/notes", token: bob)
                #expect(other.headers["cache-status"]?.contains("fwd=uri-miss") == true, "bob's request never hits alice's entry")
                #expect(other.body.contains("bob's note") && !other.body.contains("alice"), "\(other.body)")
                #expect(try await system.edge(0, "GET", "/v1/mine/notes").status == 401, "no token, no personal listing")
                // Owners only: bob cannot overwrite alice's note.
                let aliceID = try #require(((try JSONSerialization.jsonObject(with: Data(first.body.utf8)) as? [String: Any])?["items"] as? [[String: Any]])?.first?["id"] as? String)
                #expect(try await system.edge(0, "PUT", "/v1/notes/\(aliceID)", token: bob, body: #"{"text":"hijacked"}"#).status == 403)
            }
        }

        @Test func anEdgeStartedWhileTheIssuerIsDownEnforcesEarlierRevocationsOnceItAnswers() async throws {
            try await GatehouseSystem.run { system in
                let revoked = try await system.adminToken()
                let revoke = try await system.issuer("POST", "/oauth/revoke", body: "token=\(revoked)")
                #expect(revoke.status == 200)
                try await system.auth.stop()

                // Started while the issuer is down: no keys, no revocation state.
                let late = try await system.startEdge(name: "edge-late")
                defer { late.process.stop() }
                #expect(prometheusSample(try httpGet(port: late.adminPort, path: "/metrics").body, "gatehouse_edge_revocation_state_current") == 0)

                // The issuer comes back where the edges expect it; within a few seconds the late edge has both.
                _ = try await system.startIssuer(environment: ["AUTH_RPC_PORT": "\(system.authRPCPort)"])
                let deadline = ContinuousClock.now + .seconds(8)
                while prometheusSample(try httpGet(port: late.adminPort, path: "/metrics").body, "gatehouse_edge_revocation_state_current") != 1,
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let refused = try await httpRequestOffPool(port: late.port, method: "GET", path: "/v1/articles/doc-000001", headers: [("Authorization", "Bearer \(revoked)")])
                #expect(refused.status == 401, "a token revoked before this edge started is refused once the issuer answers")
                #expect(refused.headers["www-authenticate"]?.contains("revoked") == true, "\(refused.headers)")
                let fresh = try await system.adminToken()
                #expect(try await httpRequestOffPool(port: late.port, method: "GET", path: "/v1/articles/doc-000001", headers: [("Authorization", "Bearer \(fresh)")]).status == 200)
            }
        }

        @Test func withTheLimiterDownThePoliciesFallbacksDecideAtTheEdgeAtTheLiveFleetsShare() async throws {
            // The edges read the limiter's config/policies.yaml (EDGE_POLICIES_FILE).
            try await GatehouseSystem.run(edges: 2) { system in
                let token = try await system.adminToken()
                // Each edge counts the fleet once a second: the first one started before the second.
                let counted = ContinuousClock.now + .seconds(5)
                while prometheusSample(try system.edgeMetrics(), "gatehouse_fleet_live", ["role": "edge"]) != 2, ContinuousClock.now < counted {
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await system.limiter.stop()
                // `admin` is `on_redis_failure: local`: decided in the edge, with its headers: this edge's share
                // of the limit, 1000 a minute ÷ the 2 live edges counted in Redis.
                let local = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token)
                #expect(local.status == 200)
                #expect(local.headers["ratelimit-policy"] == #""admin";q=500;w=60"#, "\(local.headers)")
                // `public` is `allow`: let through.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000002").status == 200)
                let metrics = try system.edgeMetrics()
                #expect(prometheusSample(metrics, "gatehouse_edge_limiter_fallback_decisions_total", ["source": "fallback_local"]) == 1)
                #expect(prometheusSample(metrics, "gatehouse_edge_limiter_fallback_decisions_total", ["source": "fallback_allow"]) == 1)
                #expect(prometheusSample(metrics, "gatehouse_fleet_live", ["role": "edge"]) == 2)

                // The fleet grows to 4 edges: within seconds each edge's share is a quarter.
                let third = try await system.startEdge(name: "edge-third")
                defer { third.process.stop() }
                let fourth = try await system.startEdge(name: "edge-fourth")
                defer { fourth.process.stop() }
                let deadline = ContinuousClock.now + .seconds(5)
                var policy = ""
                repeat {
                    try await Task.sleep(for: .milliseconds(200))
                    policy = try await system.edge(0, "GET", "/v1/articles/doc-000001", token: token).headers["ratelimit-policy"] ?? ""
                } while policy != #""admin";q=250;w=60"# && ContinuousClock.now < deadline
                #expect(policy == #""admin";q=250;w=60"#, "the share after the fleet grew to 4 edges")
            }
        }

        @Test func aBodyThatTricklesInIsCutOffAtTheRequestTimeout() async throws {
            // 1 s: short enough to see, long enough for the last request below to be answered on a loaded machine.
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_REQUEST_TIMEOUT_MS": "1000"]) { system in
                // A request answered first, so the document is cached and the check below does not wait for the data service.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001").status == 200)
                let slow = try RawTCPConnection(port: system.edgePorts[0])
                try slow.send("PUT /v1/articles/doc-000001 HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
                try await Task.sleep(for: .milliseconds(300))
                try slow.send("\"")  // still sending: the idle timeout would not end this
                let closed = try #require(slow.waitForClose(timeout: .seconds(4)), "the connection is closed")
                #expect(closed < .milliseconds(1500), "closed about 1 s after the head, not later (\(closed) after the last byte)")
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_request_timeouts_total") == 1)
                // A request that arrives in time is answered as ever.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001").status == 200)
            }
        }

        @Test func withRedisDownAuthAndTheCacheKeepWorkingAndTheCacheIsDroppedWhenItReturns() async throws {
            try await GatehouseSystem.run { system in
                let token = try await system.adminToken()
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000004", token: token).status == 200)
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000004", token: token).headers["cache-status"]?.hasPrefix("gatehouse; hit") == true)
                system.redis.halt()
                // Tokens are verified locally, the admin tier's policy falls back to a local GCRA in the limiter,
                // and the cached document is served within its TTL.
                let during = try await system.edge(0, "GET", "/v1/articles/doc-000004", token: token)
                #expect(during.status == 200, "\(during.body)")
                #expect(during.headers["cache-status"]?.hasPrefix("gatehouse; hit") == true)
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000005", token: token).status == 200, "a miss still reaches the data service")
                try await system.redis.restart()
                // Back: the edge re-subscribes and drops what it cached, since events may have been missed.
                _ = try await system.edges[0].waitForLog(message: "event subscription re-established; dropping the cache and fetching keys and revocations", timeout: .seconds(15))
                let after = try await system.edge(0, "GET", "/v1/articles/doc-000004", token: token)
                #expect(after.status == 200)
                #expect(after.headers["cache-status"]?.contains("fwd=uri-miss") == true, "\(after.headers)")
            }
        }

        @Test func theRouteFileIsReloadedWhenItChangesAndABadOneIsRefused() async throws {
            let folder = try TestFolder()
            let original = try String(contentsOf: GatehouseSystem.repository.appendingPathComponent("config/routes.yaml"), encoding: .utf8)
            try folder.write("routes.yaml", original)
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_ROUTES_FILE": folder.path("routes.yaml"), "EDGE_ROUTES_WATCH_INTERVAL_MS": "100"]) { system in
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001").status == 200, "anonymous reads are allowed")
                try folder.write("routes.yaml", original.replacingOccurrences(of: "    auth: optional\n    cache: {ttl: 30s", with: "    auth: required\n    cache: {ttl: 30s"))
                _ = try await system.edges[0].waitForLog(message: "routes reloaded", timeout: .seconds(10))
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001").status == 401, "the new file is in force")
                try folder.write("routes.yaml", "routes:\n  - path: /v1/{nope}\n")
                let rejected = try await system.edges[0].waitForLog(message: "route file rejected; the previous routes stay in force", timeout: .seconds(10))
                #expect((rejected["problems"] as? String)?.contains("{nope} is not a parameter") == true)
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001").status == 401, "the previous routes stay")
                #expect(prometheusSample(try system.edgeMetrics(), "gatehouse_edge_route_reloads_total", ["result": "rejected"]) == 1)
            }
        }

        @Test func behindATrustedLoadBalancerEachClientAddressHasItsOwnLimit() async throws {
            try await GatehouseSystem.run(edgeEnvironment: ["EDGE_HTTP_TRUSTED_PROXIES": "127.0.0.1"]) { (system) async throws in
                func statuses(_ client: String) async throws -> [Int] {
                    var statuses: [Int] = []
                    for _ in 0..<21 { statuses.append(try await system.edge(0, "GET", "/v1/articles/doc-000001", headers: [("X-Forwarded-For", client)]).status) }
                    return statuses
                }
                #expect(try await statuses("198.51.100.1") == Array(repeating: 200, count: 20) + [429])
                #expect(try await statuses("198.51.100.2").first == 200, "another client behind the same balancer has its own 20")
                // A forged address left of the balancer's entry changes nothing.
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000001", headers: [("X-Forwarded-For", "6.6.6.6, 198.51.100.1")]).status == 429)
            }
        }

        @Test func theCacheServesHitsDropsWhatChangesEverywhereAndCoalescesMisses() async throws {
            try await GatehouseSystem.run(edges: 2) { system in
                let token = try await system.adminToken()
                let first = try await system.edge(0, "GET", "/v1/articles/doc-000003", token: token)
                #expect(first.headers["cache-status"]?.contains("fwd=uri-miss") == true)
                let etag = try #require(first.headers["etag"])
                let second = try await system.edge(0, "GET", "/v1/articles/doc-000003", token: token)
                #expect(second.headers["cache-status"]?.hasPrefix("gatehouse; hit") == true)
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000003", token: token, headers: [("If-None-Match", etag)]).status == 304)
                _ = try await system.edge(1, "GET", "/v1/articles/doc-000003", token: token)
                #expect(try await system.edge(1, "GET", "/v1/articles/doc-000003", token: token).headers["cache-status"]?.hasPrefix("gatehouse; hit") == true)

                // A write through edge 0: edge 0 answers the new version at once, edge 1 after the event arrives.
                let put = try await system.edge(0, "PUT", "/v1/articles/doc-000003", token: token, headers: [("If-Match", etag)], body: #"{"title":"rewritten"}"#)
                #expect(put.status == 200, "\(put.body)")
                #expect(try await system.edge(0, "GET", "/v1/articles/doc-000003", token: token).body.contains("rewritten"), "read your own write")
                let written = ContinuousClock.now
                var propagated: Duration?
                while ContinuousClock.now - written < .seconds(3) {
                    if try await system.edge(1, "GET", "/v1/articles/doc-000003", token: token).body.contains("rewritten") {
                        propagated = ContinuousClock.now - written
                        break
                    }
                    try await Task.sleep(for: .milliseconds(2))
                }
                #expect(propagated != nil, "edge 1 serves the new document")
                print("invalidation propagated to the other edge in \(propagated ?? .zero)")
                // Both edges dropped their entry (edge 0 for its own write, edge 1 for the event), and measured the lag.
                for index in 0..<2 {
                    let metrics = try system.edgeMetrics(index)
                    #expect((prometheusSample(metrics, "gatehouse_edge_cache_invalidated_entries_total") ?? 0) >= 1, "edge \(index)")
                    #expect((prometheusSample(metrics, "gatehouse_edge_invalidation_lag_seconds_count") ?? 0) >= 1, "edge \(index)")
                    // Buckets fine enough around the 5 ms target to read a p99 off them.
                    for bound in ["0.0015", "0.003", "0.004", "0.005", "0.006"] {
                        #expect(metrics.contains(#"gatehouse_edge_invalidation_lag_seconds_bucket{le="\#(bound)"}"#), "edge \(index): bucket \(bound)")
                    }
                }
                let stale = try await system.edge(0, "PUT", "/v1/articles/doc-000003", token: token, headers: [("If-Match", etag)], body: #"{"title":"lost update"}"#)
                #expect(stale.status == 412, "a stale If-Match is a conflict, never a lost update")

                // 100 concurrent misses for one document: one data-service call.
                let before = prometheusSample(try system.edgeMetrics(0), "gatehouse_edge_data_calls_total") ?? 0
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<100 {
                        group.addTask { try await system.edge(0, "GET", "/v1/articles/doc-000007", token: token).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { $0 == 200 })
                let calls = (prometheusSample(try system.edgeMetrics(0), "gatehouse_edge_data_calls_total") ?? 0) - before
                #expect(calls == 1, "100 concurrent misses, \(calls) data-service calls")
            }
        }

        @Test func withTheDataServiceDownStaleIfErrorServesWhatItMayAndTheRestIs503() async throws {
            // The listing's TTL is 1 s here (5 s in the repository's route file), with one minute of stale-if-error.
            let listing = "cache: {ttl: 5s, scope: public, stale_if_error: 1m}"
            let routes = try String(contentsOf: GatehouseSystem.repository.appendingPathComponent("config/routes.yaml"), encoding: .utf8)
            try #require(routes.contains(listing))
            try await GatehouseSystem.run(routes: routes.replacingOccurrences(of: listing, with: "cache: {ttl: 1s, scope: public, stale_if_error: 1m}")) { system in
                let token = try await system.adminToken()
                #expect(try await system.edge(0, "GET", "/v1/articles?limit=2", token: token).status == 200)
                try await system.data.stop()
                // A fresh hit until the TTL is over, then the stale answer.
                let deadline = ContinuousClock.now + .seconds(20)
                var stale = try await system.edge(0, "GET", "/v1/articles?limit=2", token: token)
                while stale.headers["cache-status"]?.contains("stale-if-error") != true, ContinuousClock.now < deadline {
                    #expect(stale.status == 200, "a fresh hit until the listing's 1 s are over: \(stale.body)")
                    try await Task.sleep(for: .milliseconds(100))
                    stale = try await system.edge(0, "GET", "/v1/articles?limit=2", token: token)
                }
                #expect(stale.status == 200, "\(stale.body)")
                #expect(stale.headers["cache-status"]?.contains("stale-if-error") == true, "\(stale.headers)")
                let uncached = try await system.edge(0, "GET", "/v1/articles/doc-000009", token: token)
                #expect(uncached.status == 503)
                #expect(uncached.headers["content-type"] == "application/problem+json")
            }
        }
    }
}

/// Base64url of a text, without padding.
func base64URL(_ text: String) -> String {
    Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}
