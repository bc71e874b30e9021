import Foundation
import GatehouseAuthAPI
import GatehouseEvents
import GatehouseTestSupport
import Testing

extension AuthIssuerEndToEndTests {
    /// The management subcommands against the database of a running issuer, as an operator uses them.
    ///
    /// Out of process: the CLI is the executable's, its exit status and output are what an operator sees.
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

            let (login, tokens) = try await issuer.login("carol", "carol-password-1")
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
            #expect(try await issuer.login("carol", "carol-password-1").1["error"] as? String == "invalid_grant")
            let refresh = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"] as? String ?? "")])
            #expect(refresh.json["error"] as? String == "invalid_grant")
            let missing = try await issuer.cli(["users", "disable", "nobody"])
            #expect(missing.output.contains("there is no user 'nobody'"), "\(missing.output)")
        }

        /// A leaked password: `users passwd` sets a new one (never from argv) and ends every session of the old one.
        @Test func usersPasswdChangesThePasswordAndEndsEverySessionOfTheOldOne() async throws {
            let redis = try await RedisServerProcess.start()
            defer { redis.stop() }
            let folder = try TestFolder()
            let issuer = try await AuthIssuerProcess(folder: folder, redisPort: redis.port)
            defer { issuer.process.stop() }
            let (login, tokens) = try await issuer.login("admin", adminPassword)
            #expect(login.status == 200, "\(login.body)")
            let refreshToken = try #require(tokens["refresh_token"] as? String)

            // Never from the command line, and validated as `users add` does.
            let inArgv = try await issuer.cli(["users", "passwd", "admin", "a-new-admin-password"])
            #expect(inArgv.exit != .exited(0))
            #expect(inArgv.output.contains("Unexpected argument"), "\(inArgv.output)")
            let short = try await issuer.cli(["users", "passwd", "admin", "--password-env", "NEW_PASSWORD"], environment: ["NEW_PASSWORD": "short"])
            #expect(short.exit != .exited(0))
            #expect(short.output.contains("8 to 72 bytes"), "\(short.output)")
            let unset = try await issuer.cli(["users", "passwd", "admin", "--password-env", "NEW_PASSWORD"])
            #expect(unset.output.contains("the environment variable NEW_PASSWORD is not set"), "\(unset.output)")
            let nobody = try await issuer.cli(["users", "passwd", "nobody", "--password-env", "NEW_PASSWORD"], environment: ["NEW_PASSWORD": "long-enough-password"])
            #expect(nobody.output.contains("there is no user 'nobody'"), "\(nobody.output)")
            #expect(try await issuer.login("admin", adminPassword).0.status == 200, "refused changes changed nothing")

            let revocations = RedisChannelCollector(redisPort: redis.port, channel: RevocationEvent.defaultChannel)
            try await revocations.whileSubscribed {
                let changed = try await issuer.cli(
                    ["users", "passwd", "admin", "--password-env", "NEW_PASSWORD"], environment: ["NEW_PASSWORD": "the-new-admin-password"]
                )
                #expect(changed.exit == .exited(0), "\(changed.output)")
                #expect(changed.output.contains("changed the password of admin; their tokens are revoked"), "\(changed.output)")
                try await revocations.waitUntil { $0.count >= 1 }
            }
            // Edges are told: every access token of admin issued until now is revoked.
            let event = try RevocationEvent(jsonText: try #require(revocations.messages.first))
            if case .subject(let subject, _) = event.target { #expect(subject == "admin") } else {
                Issue.record("the event is not a subject revocation: \(event)")
            }
            // The old password and the old refresh token no longer work; the new password does.
            #expect(try await issuer.login("admin", adminPassword).1["error"] as? String == "invalid_grant")
            let refresh = try await issuer.post("/oauth/token", form: [("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
            #expect(refresh.json["error"] as? String == "invalid_grant", "\(refresh.body)")
            #expect(try await issuer.login("admin", "the-new-admin-password").0.status == 200)

            // Standard input works too (the first line), as for `users add`.
            let executable = TestEnvironment.productsDirectory.appendingPathComponent("auth-issuer").path
            let piped = try await CommandRun.run(
                "/bin/sh", ["-c", #"printf '%s\n' "$NEW_PASSWORD" | "$0" users passwd admin"#, executable],
                environment: issuer.environment.merging(["NEW_PASSWORD": "a-third-admin-password"]) { $1 }
            )
            #expect(piped.exit == .exited(0), "\(piped.transcript)")
            #expect(try await issuer.login("admin", "a-third-admin-password").0.status == 200)
            #expect(try await issuer.login("admin", "the-new-admin-password").0.status == 400)
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
