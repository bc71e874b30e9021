import Foundation
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// Many correct logins at once: bcrypt work is bounded, the logins past the bound are told to come back
    /// (503 with Retry-After) instead of queueing every later login behind them.
    @Suite(.timeLimit(.minutes(2)))
    struct PasswordHashingTests {
        @Test func correctLoginsPastTheHashingQueueGet503WithRetryAfterAndLoginsStillSucceed() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            // One hash at a time at the production cost, two more waiting: a burst of 24 overflows it.
            let issuer = try await AuthIssuerProcess(
                folder: folder, redisPort: redis.port,
                environment: [
                    "AUTH_PASSWORDS_BCRYPT_COST": "12", "AUTH_PASSWORDS_MAX_CONCURRENT_HASHES": "1", "AUTH_PASSWORDS_MAX_WAITING_HASHES": "2",
                ]
            )
            defer { issuer.process.stop() }

            // Every request is sent before any answer is read, so all 24 are in the issuer at once.
            let body = "grant_type=password&username=admin&password=\(AuthIssuerProcess.formEncode(adminPassword))"
            let request = "POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            var connections: [RawTCPConnection] = []
            for _ in 0..<24 {
                let connection = try RawTCPConnection(port: issuer.httpPort)
                try connection.send(request)
                connections.append(connection)
            }
            var answers: [HTTPProbeResponse] = []
            for connection in connections {
                let text = connection.receive(timeout: .seconds(60)) { _ in false }
                answers.append(try #require(HTTPProbeResponse.sequence(text, heads: [false]).first, "no answer: \(text)"))
            }

            let succeeded = answers.filter { $0.status == 200 }
            let refused = answers.filter { $0.status == 503 }
            #expect(succeeded.count + refused.count == answers.count, "every answer is 200 or 503: \(answers.map(\.status))")
            #expect(!succeeded.isEmpty, "the logins within the bound succeed")
            #expect(!refused.isEmpty, "past one running and two waiting hashes, a login is refused: \(answers.map(\.status))")
            for answer in refused {
                #expect(answer.json["error"] as? String == "temporarily_unavailable", "\(answer.body)")
                #expect((answer.json["error_description"] as? String)?.contains("retry after") == true, "\(answer.body)")
                #expect(answer.headers["content-type"] == "application/json")
                #expect(answer.headers["cache-control"] == "no-store")
                let retryAfter = try #require(Int(answer.headers["retry-after"] ?? ""), "a 503 without Retry-After")
                #expect(retryAfter >= 1)
            }
            let metrics = try issuer.metrics()
            #expect(prometheusSample(metrics, "gatehouse_auth_password_checks_refused_total") == Double(refused.count))
            #expect(prometheusSample(metrics, "gatehouse_auth_password_checks_total") == Double(succeeded.count), "a refused login checked no password")

            // The burst is over: the next login is checked and succeeds.
            let (login, tokens) = try await issuer.login("admin", adminPassword)
            #expect(login.status == 200, "\(login.body)")
            #expect(tokens["access_token"] is String)
        }
    }
}
