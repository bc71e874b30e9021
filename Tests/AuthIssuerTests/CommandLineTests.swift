import Foundation
import GatehouseAuthAPI
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// The management subcommands against the database of a running issuer, as an operator uses them.
    @Suite(.timeLimit(.minutes(2)))
    struct CommandLineTests {
        @Test func usersClientsKeysAndRevocationsAreManagedFromTheCommandLine() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }

            // users add: the password from the environment variable named on the command line, never argv.
            let added = try await issuer.cli(["users", "add", "carol", "--roles", "editor,user", "--password-env", "CAROL_PASSWORD"], environment: ["CAROL_PASSWORD": "carol-password-1"])
            #expect(added.exit == .exited(0), "\(added.output)")
            #expect(added.output.contains("added user carol (roles: editor,user)"))
            let noPassword = try await issuer.cli(["users", "add", "dave"])
            #expect(noPassword.exit != .exited(0))
            #expect(noPassword.output.contains("no password on standard input"), "\(noPassword.output)")
            let badName = try await issuer.cli(["users", "add", "bad name", "--password-env", "P"], environment: ["P": "long-enough-password"])
            #expect(badName.output.contains("username 'bad name' is invalid"), "\(badName.output)")
            let shortPassword = try await issuer.cli(["users", "add", "erin", "--password-env", "P"], environment: ["P": "short"])
            #expect(shortPassword.output.contains("8 to 72 bytes"), "\(shortPassword.output)")

            let (login, tokens) = try issuer.login("carol", "carol-password-1")
            #expect(login.status == 200, "\(login.body)")
            let access = try #require(tokens["access_token"] as? String)
            let listed = try await issuer.cli(["users", "list"])
            #expect(listed.output.contains("carol") && listed.output.contains("editor,user"), "\(listed.output)")
            #expect(listed.output.contains("admin"), "the bootstrapped admin is listed")

            // clients list never shows a secret; keys list shows the active and the next key.
            _ = try await issuer.addClient("exports")
            #expect(try await issuer.cli(["clients", "list"]).output.contains("exports"))
            let keys = try await issuer.cli(["keys", "list"]).output
            #expect(keys.contains("active") && keys.contains("next"), "\(keys)")

            let revocations = RedisChannelCollector(redisPort: redis.port, channel: RevocationEvent.defaultChannel)
            try await revocations.whileSubscribed {
                // revoke --jti: one access token.
                let claims = try #require(base64URLDecodedJSON(access, part: 1))
                let jti = try #require(claims["jti"] as? String)
                // `--jti=`: a jti is base64url and may start with "-", which would read as an option.
                let revoked = try await issuer.cli(["revoke", "--jti=\(jti)"])
                #expect(revoked.exit == .exited(0), "\(revoked.output)")
                // users disable: no more logins, no more refreshes, and a subject revocation for the edges.
                let disabled = try await issuer.cli(["users", "disable", "carol"])
                #expect(disabled.exit == .exited(0), "\(disabled.output)")
                try await revocations.waitUntil { $0.count >= 2 }
            }
            let events = try revocations.messages.map { try RevocationEvent(jsonText: $0) }
            #expect(events.count == 2)
            if case .token(let jti, _)? = events.first?.target { #expect(jti == base64URLDecodedJSON(access, part: 1)?["jti"] as? String) } else {
                Issue.record("the first event is not the token revocation: \(events)")
            }
            if case .subject(let subject, _)? = events.last?.target { #expect(subject == "carol") } else {
                Issue.record("the second event is not the subject revocation: \(events)")
            }
            #expect(try issuer.login("carol", "carol-password-1").1["error"] as? String == "invalid_grant")
            let refresh = try issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"] as? String ?? "")])
            #expect(refresh.json["error"] as? String == "invalid_grant")
            let missing = try await issuer.cli(["users", "disable", "nobody"])
            #expect(missing.output.contains("there is no user 'nobody'"), "\(missing.output)")
        }
    }
}

/// One part of a JWT (0 header, 1 claims), base64url-decoded and parsed.
func base64URLDecodedJSON(_ token: String, part: Int) -> [String: Any]? {
    let parts = token.split(separator: ".")
    guard parts.count == 3 else { return nil }
    var text = String(parts[part]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while text.count % 4 != 0 { text += "=" }
    guard let data = Data(base64Encoded: text) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}
