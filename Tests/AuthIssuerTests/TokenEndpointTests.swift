import Foundation
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// Every grant over HTTP against the real `auth-issuer`, and every RFC 6749 §5.2 error with its status.
    @Suite(.timeLimit(.minutes(2)))
    struct TokenEndpointTests {
        @Test func eachGrantWorksEndToEnd() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            // What an operator reads at start: tokens and revocations are synced to disk before they are answered.
            #expect(issuer.listening["storage.synchronous"] as? String == "full", "\(issuer.listening)")

            // password, for the bootstrapped admin
            let (login, tokens) = try await issuer.login("admin", adminPassword)
            #expect(login.status == 200, "\(login.body)")
            #expect(login.headers["content-type"] == "application/json")
            #expect(login.headers["cache-control"] == "no-store")
            #expect(login.headers["pragma"] == "no-cache")
            #expect(tokens["token_type"] as? String == "Bearer")
            #expect(tokens["expires_in"] as? Int == 600)
            #expect(tokens["scope"] as? String == "read write")
            let refreshToken = try #require(tokens["refresh_token"] as? String)
            #expect((tokens["access_token"] as? String)?.split(separator: ".").count == 3)

            // refresh_token: rotated
            let refreshed = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
            #expect(refreshed.status == 200, "\(refreshed.body)")
            let next = try #require(refreshed.json["refresh_token"] as? String)
            #expect(next != refreshToken)

            // client_credentials, by HTTP Basic and by the body; JSON bodies work too
            let secret = try await issuer.addClient("reports", scopes: "read,metrics")
            let basic = try await issuer.post("/oauth/token", form: [("grant_type", "client_credentials"), ("scope", "metrics")], headers: [basicAuthorization("reports", secret)])
            #expect(basic.status == 200, "\(basic.body)")
            #expect(basic.json["scope"] as? String == "metrics")
            #expect(basic.json["refresh_token"] == nil, "no refresh token for client_credentials (RFC 6749 §4.4.3)")
            let posted = try await issuer.post("/oauth/token", form: [("grant_type", "client_credentials"), ("client_id", "reports"), ("client_secret", secret)])
            #expect(posted.status == 200)
            #expect(posted.json["scope"] as? String == "metrics read")
            let json = try httpRequest(
                port: issuer.httpPort, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/json")],
                body: Array(#"{"grant_type":"client_credentials","client_id":"reports","client_secret":"\#(secret)"}"#.utf8)
            )
            #expect(json.status == 200, "\(json.body)")
        }

        @Test func everyRFC6749ErrorHasItsCodeAndStatus() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let secret = try await issuer.addClient("svc")

            let cases: [(form: [(String, String)], headers: [(String, String)], status: Int, error: String)] = [
                ([("username", "admin")], [], 400, "invalid_request"),
                ([("grant_type", "password"), ("username", "admin")], [], 400, "invalid_request"),
                ([("grant_type", "authorization_code"), ("code", "x")], [], 400, "unsupported_grant_type"),
                ([("grant_type", "password"), ("username", "admin"), ("password", "wrong-password")], [], 400, "invalid_grant"),
                ([("grant_type", "password"), ("username", "nobody"), ("password", "wrong-password")], [], 400, "invalid_grant"),
                ([("grant_type", "password"), ("username", "admin"), ("password", adminPassword), ("scope", "root")], [], 400, "invalid_scope"),
                ([("grant_type", "refresh_token"), ("refresh_token", "forged")], [], 400, "invalid_grant"),
                ([("grant_type", "client_credentials")], [], 401, "invalid_client"),
                ([("grant_type", "client_credentials")], [basicAuthorization("svc", "wrong")], 401, "invalid_client"),
                ([("grant_type", "client_credentials")], [basicAuthorization("ghost", secret)], 401, "invalid_client"),
                ([("grant_type", "client_credentials"), ("scope", "write")], [basicAuthorization("svc", secret)], 400, "invalid_scope"),
                ([("grant_type", "client_credentials"), ("client_secret", secret)], [basicAuthorization("svc", secret)], 400, "invalid_request"),
                ([("grant_type", "password"), ("grant_type", "client_credentials")], [], 400, "invalid_request"),
            ]
            for (form, headers, status, error) in cases {
                let response = try await issuer.post("/oauth/token", form: form, headers: headers)
                #expect(response.status == status, "\(form): \(response.body)")
                #expect(response.json["error"] as? String == error, "\(form): \(response.body)")
                #expect((response.json["error_description"] as? String)?.isEmpty == false)
                #expect(response.headers["cache-control"] == "no-store")
                if status == 401 {
                    #expect(response.headers["www-authenticate"]?.hasPrefix("Basic") == true, "RFC 6749 §5.2: 401 names the scheme")
                }
            }
            #expect(prometheusSample(try issuer.metrics(), "gatehouse_auth_token_errors_total", ["grant": "client_credentials", "error": "invalid_client"]) == 3)
            #expect(issuer.process.log.contains(adminPassword) == false, "passwords are never logged")
            #expect(issuer.process.log.contains("wrong-password") == false, "passwords are never logged")
        }

        @Test func malformedRequestsGetA4xxAndNeverA500() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let port = issuer.httpPort

            let wrongType = try httpRequest(port: port, method: "POST", path: "/oauth/token", headers: [("Content-Type", "text/plain")], body: Array("grant_type=password".utf8))
            #expect(wrongType.status == 400)
            #expect(wrongType.json["error"] as? String == "invalid_request")
            let noType = try httpRequest(port: port, method: "POST", path: "/oauth/token", body: Array("grant_type=password".utf8))
            #expect(noType.status == 400)

            let invalidUTF8 = try httpRequest(
                port: port, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array("grant_type=password&username=".utf8) + [0xFF, 0xFE]
            )
            #expect(invalidUTF8.status == 400)
            #expect(invalidUTF8.json["error_description"] as? String == "the body is not valid UTF-8")

            let huge = try httpRequest(
                port: port, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array(("grant_type=password&username=" + String(repeating: "a", count: 200_000)).utf8)
            )
            #expect(huge.status == 413, "\(huge.body)")
            #expect(huge.headers["content-type"] == "application/problem+json")

            let notJSONObject = try httpRequest(port: port, method: "POST", path: "/oauth/token", headers: [("Content-Type", "application/json")], body: Array("[1,2".utf8))
            #expect(notJSONObject.status == 400)

            let unknownPath = try httpRequest(port: port, method: "GET", path: "/admin/secrets")
            #expect(unknownPath.status == 404)
            #expect(unknownPath.headers["content-type"] == "application/problem+json")
            #expect(unknownPath.json["status"] as? Int == 404)

            let wrongMethod = try httpRequest(port: port, method: "GET", path: "/oauth/token")
            #expect((400..<500).contains(wrongMethod.status))
            #expect(wrongMethod.headers["content-type"] == "application/problem+json")

            let garbageBasic = try await issuer.post("/oauth/token", form: [("grant_type", "client_credentials")], headers: [("Authorization", "Basic %%%")])
            #expect(garbageBasic.status == 401)

            // Still serving after all of it.
            #expect(try await issuer.login("admin", adminPassword).0.status == 200)
            #expect(issuer.process.exitStatus == nil)
        }

        @Test func theDiscoveryDocumentNamesEveryEndpoint() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let metadata = try httpGet(port: issuer.httpPort, path: "/.well-known/openid-configuration").json
            #expect(metadata["issuer"] as? String == testIssuer)
            #expect(metadata["jwks_uri"] as? String == "\(testIssuer)/.well-known/jwks.json")
            #expect(metadata["token_endpoint"] as? String == "\(testIssuer)/oauth/token")
            #expect(metadata["revocation_endpoint"] as? String == "\(testIssuer)/oauth/revoke")
            #expect(metadata["grant_types_supported"] as? [String] == ["password", "client_credentials", "refresh_token"])
            #expect(metadata["access_token_signing_alg_values_supported"] as? [String] == ["ES256", "EdDSA"])
            let rfc8414 = try httpGet(port: issuer.httpPort, path: "/.well-known/oauth-authorization-server")
            #expect(rfc8414.json["issuer"] as? String == testIssuer)
            let readiness = try httpGet(port: issuer.adminPort, path: "/readyz")
            #expect(readiness.status == 200, "\(readiness.body)")
        }
    }
}
