import Foundation
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// Failed logins counted by the real limiter per username and per address; over the limit, 429 before any hash.
    @Suite(.timeLimit(.minutes(2)))
    struct BruteForceTests {
        @Test func theSixthWrongPasswordInAMinuteGets429WithRetryAfterBeforeAnyHashCheck() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            try await withLimiter(folder: folder, redisPort: redis.port, policies: failedLoginPolicies) { limiterPort in
                // A generous call timeout: on a loaded machine a limiter answering after the default second would
                // let the issuer fail open, and this test is about what the limiter decides.
                let issuer = try await AuthIssuerProcess(
                    folder: folder, redisPort: redis.port, limiterPort: limiterPort, environment: ["AUTH_LIMITER_CALL_TIMEOUT_MS": "10000"]
                )
                defer { issuer.process.stop() }
                // The limiter connection is up before the first login is counted.
                try await Task.sleep(for: .milliseconds(300))

                for attempt in 1...5 {
                    let (response, body) = try await issuer.login("admin", "guess-\(attempt)")
                    #expect(response.status == 400, "attempt \(attempt): \(response.body)")
                    #expect(body["error"] as? String == "invalid_grant")
                }
                let checksBefore = prometheusSample(try issuer.metrics(), "gatehouse_auth_password_checks_total")
                #expect(checksBefore == 5)
                let (sixth, body) = try await issuer.login("admin", "guess-6")
                #expect(sixth.status == 429, "\(sixth.body)")
                #expect(body["error"] as? String == "slow_down")
                let retryAfter = try #require(Int(sixth.headers["retry-after"] ?? ""))
                #expect((1...60).contains(retryAfter))
                // Even the right password is refused now, and no hash was computed for either.
                #expect(try await issuer.login("admin", adminPassword).0.status == 429)
                let metrics = try issuer.metrics()
                #expect(prometheusSample(metrics, "gatehouse_auth_password_checks_total") == 5, "no bcrypt work once over the limit")
                #expect(prometheusSample(metrics, "gatehouse_auth_logins_throttled_total") == 2)
                // Another user from the same address is unaffected: the address limit is 100.
                #expect(try await issuer.login("someone-else", "guess").0.status == 400)
                let failures = issuer.process.jsonLogLines.filter { $0["msg"] as? String == "login failed" }
                #expect(failures.count == 6)
                #expect(failures.allSatisfy { $0["client.ip"] as? String == "127.0.0.1" && $0["auth.reason"] != nil })
                #expect(issuer.process.log.contains("guess-") == false, "passwords are never logged")
            }
        }
    }
}
