import Foundation
import GatehouseAuthAPI
import GatehouseEvents
import GatehouseRPC
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// Tokens that any JWT library verifies from the JWKS URL alone, key rotation, and revocations that reach
    /// Redis with consecutive versions.
    @Suite(.timeLimit(.minutes(2)))
    struct KeysAndRevocationTests {
        @Test func tokensVerifyWithPyJWTFromTheJWKSURLBeforeAndAfterARotation() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let jwksURL = "http://127.0.0.1:\(issuer.httpPort)/.well-known/jwks.json"
            let keyEvents = RedisChannelCollector(redisPort: redis.port, channel: SigningKeyEvent.defaultChannel)

            let before = try #require(try await issuer.login("admin", adminPassword).1["access_token"] as? String)
            let first = try await verifyWithPyJWT(token: before, jwksURL: jwksURL)
            #expect(first.status == 0, "\(first.output)")
            let firstKID = try #require(first.output.split(separator: " ").last.map(String.init))
            #expect(first.output.hasPrefix("admin "))
            let jwks = try httpGet(port: issuer.httpPort, path: "/.well-known/jwks.json")
            #expect(jwks.headers["content-type"] == "application/jwk-set+json")
            let published = (jwks.json["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String }
            #expect(published.count == 2, "the signing key and the next one")
            let nextKID = try #require(published.first { $0 != firstKID })

            try await keyEvents.whileSubscribed {
                let (exit, output) = try await issuer.cli(["keys", "rotate"])
                #expect(exit == .exited(0), "\(output)")
                try await keyEvents.waitUntil { $0.count >= 1 }
            }
            let event = try SigningKeyEvent(jsonText: try #require(keyEvents.messages.first))
            #expect(event.signingKID == nextKID, "the key published before the rotation now signs")
            #expect(Set(event.publishedKIDs).isSuperset(of: [firstKID, nextKID]))

            let after = try #require(try await issuer.login("admin", adminPassword).1["access_token"] as? String)
            let second = try await verifyWithPyJWT(token: after, jwksURL: jwksURL)
            #expect(second.status == 0, "\(second.output)")
            #expect(second.output == "admin \(nextKID)", "new tokens carry the new kid")
            let old = try await verifyWithPyJWT(token: before, jwksURL: jwksURL)
            #expect(old.status == 0, "tokens signed before the rotation still verify: \(old.output)")
            let tampered = try await verifyWithPyJWT(token: String(after.dropLast(4)) + "AAAA", jwksURL: jwksURL)
            #expect(tampered.status != 0, "a changed signature does not verify")
        }

        @Test func revocationsArePublishedInOrderWithConsecutiveVersionsAndServedOverRPC() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let revocations = RedisChannelCollector(redisPort: redis.port, channel: RevocationEvent.defaultChannel)
            let (_, first) = try await issuer.login("admin", adminPassword)
            let access = try #require(first["access_token"] as? String)
            let (_, second) = try await issuer.login("admin", adminPassword)
            let refresh = try #require(second["refresh_token"] as? String)

            try await revocations.whileSubscribed {
                // RFC 7009 revocation of an access token (by possession: a token issued without a client).
                let revoked = try await issuer.post("/oauth/revoke", form: [("token", access), ("token_type_hint", "access_token")])
                #expect(revoked.status == 200)
                #expect(revoked.headers["cache-control"] == "no-store")
                try await revocations.waitUntil { $0.count >= 1 }
                // A refresh token: its family dies, and the access token issued with it is revoked.
                #expect(try await issuer.post("/oauth/revoke", form: [("token", refresh)]).status == 200)
                #expect(try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", refresh)]).json["error"] as? String == "invalid_grant")
                // The CLI, against the same database while the issuer runs.
                let (exit, output) = try await issuer.cli(["revoke", "--subject", "admin"])
                #expect(exit == .exited(0), "\(output)")
                try await revocations.waitUntil { $0.count >= 3 }
                // Unknown tokens are fine (RFC 7009 §2.2) and publish nothing.
                #expect(try await issuer.post("/oauth/revoke", form: [("token", "unknown")]).status == 200)
            }
            let events = try revocations.messages.map { try RevocationEvent(jsonText: $0) }
            #expect(events.map(\.version) == [1, 2, 3], "consecutive versions, so an edge can see a gap")
            guard case .token(let jti, _) = events[0].target else {
                Issue.record("the first event is not a token revocation: \(events)")
                return
            }
            #expect(events[2].target == .subject("admin", issuedBefore: events.count == 3 ? subjectCutoff(events[2]) : 0))

            let state = try await withRPCClients(ports: [issuer.rpcPort], secret: authSecret) { clients in
                try await clients[0].call(AuthMethods.revocationState, Gatehouse_Auth_RevocationStateRequest())
            }
            #expect(state.version == 3)
            #expect(state.revocations.map(\.version) == [1, 2, 3])
            #expect(state.revocations.first?.token.jti == jti)
            #expect(state.revocations.last?.subject.subject == "admin")
            #expect(prometheusSample(try issuer.metrics(), "gatehouse_auth_revocations_total", ["kind": "access_token"]) == 1)
        }

        @Test func aRefreshTokenUsedTwiceKillsItsFamilyAndIsLoggedAsASecurityEvent() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let (_, login) = try await issuer.login("admin", adminPassword)
            let stolen = try #require(login["refresh_token"] as? String)
            let legitimate = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", stolen)])
            let successor = try #require(legitimate.json["refresh_token"] as? String)
            let replay = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", stolen)])
            #expect(replay.status == 400)
            #expect(replay.json["error"] as? String == "invalid_grant")
            let afterReuse = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", successor)])
            #expect(afterReuse.json["error"] as? String == "invalid_grant", "the legitimate successor died with the family")
            let line = try await issuer.process.waitForLog(message: "security: a rotated refresh token was presented again; its whole family is revoked")
            #expect(line["event"] as? String == "refresh_token_reuse")
            #expect(line["auth.subject"] as? String == "admin")
            #expect(line["revoked_access_tokens"] as? String == "2")
            #expect(issuer.process.log.contains(stolen) == false, "tokens are never logged")
        }
    }
}

private func subjectCutoff(_ event: RevocationEvent) -> Int64 {
    if case .subject(_, let issuedBefore) = event.target { return issuedBefore }
    return 0
}
