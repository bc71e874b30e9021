import ArgumentParser
import AuthIssuerCore
import Foundation
import GatehouseCommand

/// `auth-issuer users add|passwd|disable|list`.
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage users.", subcommands: [Add.self, Passwd.self, Disable.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; the password comes from standard input or --password-env.")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>
        @Argument(help: "The user name (the tokens' sub).") var name: String
        @Option(help: "Comma-separated roles, e.g. admin,editor.") var roles = ""
        @Option(help: "Read the password from this environment variable instead of standard input.") var passwordEnv: String?

        func run() async throws {
            try PrincipalName.validate(self.name, field: "username")
            let roles = try names(self.roles, field: "role")
            let password = try readPassword(environmentVariable: self.passwordEnv)
            let (store, policy) = try await self.options.openStore()
            let hash = try await PasswordHasher(cost: policy.bcryptCost).hash(password)
            try await store.addUser(name: self.name, passwordHash: hash, roles: roles)
            await store.close()
            print("added user \(self.name) (roles: \(roles.isEmpty ? "none" : roles.joined(separator: ",")))")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a user's password and revoke every token they hold; the password comes from standard input or --password-env."
        )
        @OptionGroup var options: ConfigOptions<AuthIssuerService>
        @Argument(help: "The user name.") var name: String
        @Option(help: "Read the new password from this environment variable instead of standard input.") var passwordEnv: String?

        func run() async throws {
            let password = try readPassword(environmentVariable: self.passwordEnv)
            try PasswordHasher.validate(password)
            let (store, policy) = try await self.options.openStore()
            let hash = try await PasswordHasher(cost: policy.bcryptCost).hash(password)
            let version = try await store.changePassword(named: self.name, passwordHash: hash)
            await store.close()
            guard let version else { throw ValidationError("there is no user '\(self.name)'") }
            print("changed the password of \(self.name); their tokens are revoked (revocation version \(version))")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user and revoke every token they hold.")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            let (store, _) = try await self.options.openStore()
            let version = try await store.disableUser(named: self.name)
            await store.close()
            guard let version else { throw ValidationError("there is no user '\(self.name)'") }
            print("disabled user \(self.name); their tokens are revoked (revocation version \(version))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>

        func run() async throws {
            let (store, _) = try await self.options.openStore()
            let users = try await store.users()
            await store.close()
            printTable(
                ["NAME", "ROLES", "DISABLED", "CREATED"],
                users.map { [$0.name, $0.roles.joined(separator: ","), $0.disabled ? "yes" : "no", isoTime($0.createdAtMs)] }
            )
        }
    }
}

/// `auth-issuer clients add|list`.
struct Clients: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage OAuth clients.", subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a client; its generated secret is printed once and stored only as a hash.")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>
        @Argument(help: "The client id.") var id: String
        @Option(help: "Comma-separated scopes the client may ask for.") var scopes = "read"
        @Option(help: "Comma-separated roles its tokens carry.") var roles = ""

        func run() async throws {
            try PrincipalName.validate(self.id, field: "client id")
            let scopes = self.scopes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if let invalid = scopes.first(where: { !ScopeSet.isValidScope($0) }) {
                throw ValidationError("scope '\(invalid)' is invalid: use 1 to 64 characters of A-Z a-z 0-9 _ . : -")
            }
            let roles = try names(self.roles, field: "role")
            let secret = TokenService.generateClientSecret()
            let (store, _) = try await self.options.openStore()
            try await store.addClient(id: self.id, secretHash: TokenService.sha256Hex(secret), scopes: ScopeSet(scopes), roles: roles)
            await store.close()
            print("client_id=\(self.id)")
            print("client_secret=\(secret)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients (secrets are not stored and cannot be shown).")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>

        func run() async throws {
            let (store, _) = try await self.options.openStore()
            let clients = try await store.clients()
            await store.close()
            printTable(
                ["ID", "SCOPES", "ROLES", "CREATED"],
                clients.map { [$0.id, $0.scopes.parameter, $0.roles.joined(separator: ","), isoTime($0.createdAtMs)] }
            )
        }
    }
}

/// `auth-issuer keys rotate|list`.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage signing keys.", subcommands: [Rotate.self, List.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rotate now: the next key starts signing, the active one retires.")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>

        func run() async throws {
            let (store, policy) = try await self.options.openStore()
            try await AuthEventPublisher.ensureKeys(store: store, policy: policy)
            let generation = try await AuthEventPublisher.rotate(store: store, policy: policy)
            let (_, keys) = try await store.signingKeys()
            await store.close()
            let signing = keys.first { $0.state == .active }?.kid ?? "-"
            print("rotated: key generation \(generation), signing with \(signing)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the published keys.")
        @OptionGroup var options: ConfigOptions<AuthIssuerService>

        func run() async throws {
            let (store, _) = try await self.options.openStore()
            let (generation, keys) = try await store.signingKeys()
            await store.close()
            print("key generation \(generation)")
            printTable(
                ["KID", "ALG", "STATE", "CREATED", "ACTIVATED", "UNPUBLISHED AT"],
                keys.map { [$0.kid, $0.algorithm, $0.state.rawValue, isoTime($0.createdAtMs), isoTime($0.activatedAtMs), isoTime($0.unpublishAtMs)] }
            )
        }
    }
}

/// `auth-issuer revoke --subject NAME | --jti JTI`.
struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke every token of a subject, or one access token by its jti.")
    @OptionGroup var options: ConfigOptions<AuthIssuerService>
    @Option(help: "Revoke every token of this subject issued until now.") var subject: String?
    @Option(help: "Revoke the access token with this jti.") var jti: String?
    @Option(help: "With --jti: the token's exp (Unix seconds); by default now plus the longest access-token lifetime.") var expiresAt: Int64?

    func validate() throws {
        guard (self.subject == nil) != (self.jti == nil) else { throw ValidationError("give exactly one of --subject or --jti") }
    }

    func run() async throws {
        let (store, policy) = try await self.options.openStore()
        let version: Int64
        if let subject = self.subject {
            try PrincipalName.validate(subject, field: "subject")
            version = try await store.revokeSubject(subject)
        } else {
            let expiresAt = self.expiresAt ?? Int64(Date().timeIntervalSince1970) + policy.accessLifetime.components.seconds
            version = try await store.revokeAccessToken(jti: self.jti ?? "", expiresAt: expiresAt)
        }
        await store.close()
        print("revoked (revocation version \(version)); a running issuer publishes it within events.poll_interval_ms")
    }
}
