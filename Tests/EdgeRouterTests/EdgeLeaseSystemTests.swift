import Foundation
import GatehouseTestSupport
import Testing

extension GatehouseLoadSystemTests {
    /// Rate limits decided at the edges from leased units, across edge and limiter processes.
    ///
    /// The limiters are child processes here (``GatehouseSystem/startLimiterProcess(name:environment:)``): under
    /// this load a limiter in the test process shares its few cooperative threads with the load generator and
    /// every other test, answers later than the edges' call timeout, and the policies' fallback decides instead
    /// of the leases this suite is about; and a crash is a `SIGKILL`.
    @Suite(.timeLimit(.minutes(4)))
    struct EdgeLeaseSystemTests {
        /// Anonymous readers share one policy keyed by their address (all of this test's callers are 127.0.0.1).
        static func files(algorithm: String, limit: Int, period: String, onFailure: String = "allow") -> (policies: String, routes: String) {
            (
                """
                policies:
                  - {name: shared, algorithm: \(algorithm), limit: \(limit), period: \(period), key: [ip], on_redis_failure: \(onFailure)}
                  - {name: auth_failures, limit: 10, period: 1m, key: [ip]}
                """,
                """
                routes:
                  - path: /v1/{collection}/{id}
                    methods: [GET]
                    auth: optional
                    cache: {ttl: 1h, scope: public}
                tiers:
                  anonymous: [shared]
                """
            )
        }

        /// Three edges on two limiters, 64 callers at once on one key: for every algorithm the edges together
        /// admit at most the limit, and at most the live edges' lease caps fewer (their units left unspent).
        @Test(arguments: ["gcra", "token_bucket", "sliding_window", "fixed_window"])
        func threeEdgesOnTwoLimitersNeverAdmitMoreThanTheLimit(algorithm: String) async throws {
            let limit = 1000
            // A failed decision denies, and the timeouts are generous: on a loaded machine a limiter or Redis
            // answering late must not let a fallback decide (`allow` would admit beyond the limit by design);
            // this test is about what the leases admit.
            let files = Self.files(algorithm: algorithm, limit: limit, period: "24h", onFailure: "deny")
            try await GatehouseSystem.run(
                edges: 0, edgeEnvironment: ["EDGE_LIMITER_CALL_TIMEOUT_MS": "5000"], limiterEnvironment: ["LIMITER_REDIS_COMMAND_TIMEOUT_MS": "2000"],
                policies: files.policies, routes: files.routes
            ) { system in
                let first = try await system.startLimiterProcess(name: "limiter-0")
                defer { first.process.stop() }
                let second = try await system.startLimiterProcess(name: "limiter-1")
                defer { second.process.stop() }
                var edges: [(process: ServiceProcess, port: Int, adminPort: Int)] = []
                defer { for edge in edges { edge.process.stop() } }
                for index in 0..<3 {
                    let limiterPort = index == 1 ? second.port : first.port
                    edges.append(try await system.startEdge(name: "edge-\(index)", environment: ["EDGE_LIMITER_PORT": "\(limiterPort)"]))
                }
                // Every edge counts the others (once a second) before the load, so the limiters' caps are final.
                try await waitUntil("the edges count 3") {
                    try edges.allSatisfy { prometheusSample(try httpGet(port: $0.adminPort, path: "/metrics").body, "gatehouse_fleet_live", ["role": "edge"]) == 3 }
                }
                let ports = edges.map(\.port)
                let results = await httpLoad(callers: 64, requests: 2 * limit) { index in
                    (ports[index % ports.count], "GET", "/v1/articles/doc-000001", [])
                }
                #expect(results.allSatisfy { $0.status == 200 || $0.status == 429 }, "only 200 and 429: \(Set(results.map(\.status)))")
                let admitted = results.filter { $0.status == 200 }.count
                #expect(admitted <= limit, "\(algorithm): the edges admitted \(admitted), over the limit of \(limit)")
                // Lease cap: 5% of the limit shared by 3 edges, 16 units each; at most that many per edge sit unspent.
                let cap = limit * 5 / 100 / 3
                #expect(admitted >= limit - 3 * cap, "\(algorithm): \(limit - admitted) units left unspent, over 3 × \(cap)")
                var acquires = 0.0
                for edge in edges {
                    let metrics = try httpGet(port: edge.adminPort, path: "/metrics").body
                    acquires += prometheusSample(metrics, "gatehouse_edge_limiter_calls_total", ["method": "acquire"]) ?? 0
                }
                #expect(acquires < Double(2 * limit), "\(2 * limit) requests took \(acquires) acquires")
                print("\(algorithm): admitted \(admitted) of \(limit) (\(limit - admitted) under), \(Int(acquires)) acquires for \(2 * limit) requests")
            }
        }

        /// A limiter killed under load: no request waits longer than the call timeout; units held are spent,
        /// then each policy's fallback decides (here `deny`); a limiter started again is back in charge within
        /// about a second.
        @Test func aLimiterKilledUnderLoadCostsNoRequestMoreThanTheCallTimeout() async throws {
            let files = Self.files(algorithm: "gcra", limit: 1_000_000, period: "1h", onFailure: "deny")
            let limiterPort = try freeLoopbackPort()
            try await GatehouseSystem.run(
                edges: 0, edgeEnvironment: ["EDGE_LIMITER_CALL_TIMEOUT_MS": "1000", "EDGE_LIMITER_PORT": "\(limiterPort)"],
                policies: files.policies, routes: files.routes
            ) { system in
                let limiter = try await system.startLimiterProcess(name: "limiter", environment: ["LIMITER_RPC_PORT": "\(limiterPort)"])
                defer { limiter.process.stop() }
                var edges: [(process: ServiceProcess, port: Int, adminPort: Int)] = []
                defer { for edge in edges { edge.process.stop() } }
                for index in 0..<2 {
                    edges.append(try await system.startEdge(name: "edge-\(index)"))
                }
                let ports = edges.map(\.port)
                let warm = await httpLoad(callers: 8, requests: 400) { (ports[$0 % 2], "GET", "/v1/articles/doc-000001", []) }
                #expect(warm.allSatisfy { $0.status == 200 })

                let killedAt = ContinuousClock.now
                limiter.process.kill()
                let during = await httpLoad(callers: 16, requests: .max, until: killedAt + .seconds(3)) { (ports[$0 % 2], "GET", "/v1/articles/doc-000001", []) }
                let slowest = during.map(\.duration).max() ?? .zero
                #expect(slowest < .milliseconds(1500), "the slowest request while the limiter was down took \(slowest)")
                #expect(during.allSatisfy { $0.status == 200 || $0.status == 429 }, "\(Set(during.map(\.status)))")
                // Leases last at most a second: after that, the `deny` fallback refuses.
                let late = during.filter { $0.sentAt - killedAt > .milliseconds(1500) }
                #expect(!late.isEmpty && late.allSatisfy { $0.status == 429 }, "after the leases ended: \(late.map(\.status))")

                // The limiter comes back where the edges expect it.
                let again = try await system.startLimiterProcess(name: "limiter-again", environment: ["LIMITER_RPC_PORT": "\(limiterPort)"])
                defer { again.process.stop() }
                let back = ContinuousClock.now
                try await waitUntil("both edges admit again", timeout: .seconds(3)) {
                    for port in ports where try await httpGetOffPool(port: port, path: "/v1/articles/doc-000001").status != 200 {
                        return false
                    }
                    return true
                }
                let recovered = ContinuousClock.now - back
                #expect(recovered < .milliseconds(1500), "decisions went back to the limiter's leases \(recovered) after it listened")
            }
        }
    }
}

/// Polls `condition` every 100 ms until it holds; fails the test naming `what` after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}
