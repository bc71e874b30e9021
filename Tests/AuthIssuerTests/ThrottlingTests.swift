import Foundation
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// Successful logins, refresh grants and revocations are charged to limiter policies of their own, with
    /// the real limiter: past each limit, `429 slow_down` with `Retry-After`.
    @Suite(.timeLimit(.minutes(2)))
    struct ThrottlingTests {
        static let policies = failedLoginPolicies + """
              - name: login_success_username
                limit: 3
                period: 1m
                key: [sub]
              - name: login_success_ip
                limit: 100
                period: 1m
                key: [ip]
              - name: token_refresh
                limit: 2
                period: 1m
                key: [sub]
              - name: token_revoke
                limit: 2
                period: 1m
                key: [ip]
            """

        @Test func successfulLoginsRefreshesAndRevocationsPastTheirPoliciesGet429WithRetryAfter() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            try await withLimiter(folder: folder, redisPort: redis.port, policies: Self.policies) { limiterPort in
                // A generous call timeout: on a loaded machine a limiter answering after the default second would
                // let the issuer fail open, and this test is about what the limiter decides.
                let issuer = try await AuthIssuerProcess(
                    folder: folder, redisPort: redis.port, limiterPort: limiterPort, environment: ["AUTH_LIMITER_CALL_TIMEOUT_MS": "10000"]
                )
                defer { issuer.process.stop() }
                // The limiter connection is up before the first request is counted.
                try await Task.sleep(for: .milliseconds(300))

                func expectThrottled(_ response: HTTPProbeResponse, _ what: String) throws {
                    #expect(response.status == 429, "\(what): \(response.body)")
                    #expect(response.json["error"] as? String == "slow_down", "\(what): \(response.body)")
                    #expect(response.headers["cache-control"] == "no-store")
                    let retryAfter = try #require(Int(response.headers["retry-after"] ?? ""), "\(what): no Retry-After")
                    #expect((1...60).contains(retryAfter), "\(what): Retry-After \(retryAfter)")
                }

                // Successful logins: three for admin in a minute, then refused before any password check.
                var refreshTokens: [String] = []
                for attempt in 1...3 {
                    let (response, body) = try await issuer.login("admin", adminPassword)
                    #expect(response.status == 200, "login \(attempt): \(response.body)")
                    refreshTokens.append(try #require(body["refresh_token"] as? String))
                }
                try expectThrottled(try await issuer.login("admin", adminPassword).0, "the fourth correct login")
                let metrics = try issuer.metrics()
                #expect(prometheusSample(metrics, "gatehouse_auth_password_checks_total") == 3, "the refused login checked no password")
                #expect(prometheusSample(metrics, "gatehouse_auth_logins_throttled_total") == 1)

                // Refresh grants: two for admin in a minute, whichever of admin's logins they continue.
                for (index, token) in refreshTokens.prefix(2).enumerated() {
                    let refreshed = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", token)])
                    #expect(refreshed.status == 200, "refresh \(index + 1): \(refreshed.body)")
                }
                try expectThrottled(
                    try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", refreshTokens[2])]), "the third refresh"
                )

                // Revocations: two from this address in a minute; an authenticated client has a budget of its own.
                for index in 0..<2 {
                    let revoked = try await issuer.post("/oauth/revoke", form: [("token", "unknown-token-\(index)")])
                    #expect(revoked.status == 200, "revocation \(index + 1): \(revoked.body)")
                }
                try expectThrottled(try await issuer.post("/oauth/revoke", form: [("token", refreshTokens[2])]), "the third revocation")
                let secret = try await issuer.addClient("reports")
                let byClient = try await issuer.post("/oauth/revoke", form: [("token", "unknown-token")], headers: [basicAuthorization("reports", secret)])
                #expect(byClient.status == 200, "\(byClient.body)")

                // The throttled revocation revoked nothing.
                #expect((prometheusSample(try issuer.metrics(), "gatehouse_auth_revocations_total", ["kind": "refresh_family"]) ?? 0) == 0)
                let refusals = issuer.process.jsonLogLines.map { $0["msg"] as? String ?? "" }
                #expect(refusals.contains("login refused: too many logins"))
                #expect(refusals.contains("refresh refused: too many refreshes"))
                #expect(refusals.contains("revocation refused: too many revocations"))
            }
        }
    }
}
