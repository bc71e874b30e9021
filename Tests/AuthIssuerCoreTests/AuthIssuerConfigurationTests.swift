import AuthIssuerCore
import GatehouseConfig
import GatehouseObservability
import GatehouseRPC
import Testing

/// The issuer's configuration: defaults that run, and errors that name the key and never print a secret.
struct AuthIssuerConfigurationTests {
    private func configuration(_ yaml: String = "", environment: [String: String] = [:]) throws -> AuthIssuerConfiguration {
        var document = try ConfigDocument(
            yaml: yaml, source: "auth.yaml", environment: ["AUTH_RPC_SECRET": "a-secret-of-enough-length"].merging(environment) { $1 }, prefix: "AUTH"
        )
        return try AuthIssuerConfiguration(reading: &document)
    }

    @Test func theDefaultsAreTheDocumentedOnes() throws {
        let configuration = try self.configuration()
        #expect(configuration.http.port == 8081)
        #expect(configuration.rpc.port == 7103)
        #expect(configuration.observability.adminPort == 9103)
        #expect(configuration.limiter.port == 7101)
        #expect(configuration.tokens.issuer == "http://127.0.0.1:8081")
        #expect(configuration.tokens.accessLifetime == .seconds(600))
        #expect(configuration.tokens.algorithm == .es256)
        #expect(configuration.tokens.bcryptCost == 12)
        #expect(configuration.throttling.failedLoginsPerUsername == "login_username")
        #expect(configuration.throttling.failedLoginsPerAddress == "login_ip")
        #expect(configuration.throttling.loginsPerUsername == "login_success_username")
        #expect(configuration.throttling.loginsPerAddress == "login_success_ip")
        #expect(configuration.throttling.refreshesPerSubject == "token_refresh")
        #expect(configuration.throttling.revocationsPerCaller == "token_revoke")
        #expect(configuration.passwordHashing.concurrency == PasswordHashingQueue.defaultConcurrency, "one per core")
        #expect(configuration.passwordHashing.waitingLimit == 32)
        #expect(configuration.tokens.maxRefreshFamiliesPerUser == 50)
        #expect(configuration.bootstrapAdminPassword == nil)
    }

    @Test func anAccessLifetimeOutsideFiveToFifteenMinutesIsRefused() {
        #expect(throws: ConfigError.self) { try self.configuration("tokens:\n  access_lifetime_s: 3600\n") }
        #expect(throws: ConfigError.self) { try self.configuration(environment: ["AUTH_TOKENS_ACCESS_LIFETIME_S": "60"]) }
        #expect((try? self.configuration(environment: ["AUTH_TOKENS_ACCESS_LIFETIME_S": "900"]))?.tokens.accessLifetime == .seconds(900))
    }

    @Test func aBadBootstrapPasswordIsNamedWithoutBeingPrinted() {
        do {
            _ = try self.configuration(environment: ["AUTH_BOOTSTRAP_ADMIN_PASSWORD": "short"])
            Issue.record("a 5-byte password was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains("AUTH_BOOTSTRAP_ADMIN_PASSWORD"))
            #expect(message.contains("5 bytes"))
            #expect(!message.contains("short"), "the password itself is never printed: \(message)")
        }
    }

    @Test func badNamesAlgorithmsAndUnknownKeysAreRefused() {
        #expect(throws: ConfigError.self) { try self.configuration(environment: ["AUTH_BOOTSTRAP_ADMIN_USER": "root user"]) }
        #expect(throws: ConfigError.self) { try self.configuration("keys:\n  algorithm: HS256\n") }
        do {
            _ = try self.configuration("tokens:\n  audiense: api\n")
            Issue.record("a misspelled key was accepted")
        } catch {
            #expect("\(error)".contains("did you mean 'tokens.audience'"), "\(error)")
        }
    }

    @Test func noneTurnsALoginCounterOff() throws {
        let configuration = try self.configuration("login:\n  ip_policy: none\n  success_username_policy: none\nrefresh.policy: none\n")
        #expect(configuration.throttling.failedLoginsPerAddress.isEmpty)
        #expect(configuration.throttling.loginsPerUsername.isEmpty)
        #expect(configuration.throttling.refreshesPerSubject.isEmpty)
        #expect(configuration.throttling.failedLoginsPerUsername == "login_username")
        #expect(configuration.throttling.revocationsPerCaller == "token_revoke")
        #expect(!configuration.throttling.allOff)
        let off = try self.configuration(
            environment: [
                "AUTH_LOGIN_USERNAME_POLICY": "none", "AUTH_LOGIN_IP_POLICY": "none", "AUTH_LOGIN_SUCCESS_USERNAME_POLICY": "none",
                "AUTH_LOGIN_SUCCESS_IP_POLICY": "none", "AUTH_REFRESH_POLICY": "none", "AUTH_REVOKE_POLICY": "none",
            ])
        #expect(off.throttling.allOff, "with every policy off the issuer never asks the limiter")
    }

    @Test func theHashingBoundsAndTheFamilyLimitAreReadAndRangeChecked() throws {
        let configuration = try self.configuration(
            "passwords:\n  max_concurrent_hashes: 3\n  max_waiting_hashes: 0\ntokens:\n  max_refresh_families_per_user: 5\n"
        )
        #expect(configuration.passwordHashing.concurrency == 3)
        #expect(configuration.passwordHashing.waitingLimit == 0)
        #expect(configuration.tokens.maxRefreshFamiliesPerUser == 5)
        for (variable, value) in [
            ("AUTH_PASSWORDS_MAX_CONCURRENT_HASHES", "0"), ("AUTH_PASSWORDS_MAX_WAITING_HASHES", "-1"), ("AUTH_TOKENS_MAX_REFRESH_FAMILIES_PER_USER", "0"),
        ] {
            let error = #expect(throws: ConfigError.self) { try self.configuration(environment: [variable: value]) }
            #expect(error?.description.contains(variable) == true, "\(String(describing: error))")
        }
    }

    /// `cp env.example .env` without replacing the values, or a short secret: refused before anything
    /// starts, naming the key and the variable, never printing the value.
    @Test(arguments: [
        ("AUTH_RPC_SECRET", "rpc.secret", "example-rpc-secret-replace-me-0123456789abcdef", "an example value"),
        ("AUTH_REDIS_PASSWORD", "redis.password", "example-redis-password-REPLACE-ME-0123456789", "an example value"),
        ("AUTH_BOOTSTRAP_ADMIN_PASSWORD", "bootstrap.admin_password", "example-admin-password-replace-me", "an example value"),
        ("AUTH_RPC_SECRET", "rpc.secret", "fifteen-bytes!!", "15 bytes"),
        ("AUTH_REDIS_PASSWORD", "redis.password", "short-password", "14 bytes"),
        ("AUTH_BOOTSTRAP_ADMIN_PASSWORD", "bootstrap.admin_password", "twelve-bytes", "12 bytes"),
    ])
    func anExampleOrShortSecretIsRefusedNamingTheKeyAndVariable(variable: String, key: String, value: String, shown: String) {
        let error = #expect(throws: ConfigError.self) { try self.configuration(environment: [variable: value]) }
        let message = error?.description ?? ""
        #expect(message.contains("environment variable \(variable)"), "\(message)")
        #expect(message.contains("key '\(key)'"), "\(message)")
        #expect(message.contains(shown), "\(message)")
        #expect(!message.contains(value), "the secret itself is never printed: \(message)")
    }

    @Test func secretsOfSixteenBytesOrMoreAreAccepted() throws {
        let configuration = try self.configuration(
            environment: [
                "AUTH_RPC_SECRET": "sixteen-bytes-ok", "AUTH_REDIS_PASSWORD": "sixteen-bytes-ok", "AUTH_BOOTSTRAP_ADMIN_PASSWORD": "sixteen-bytes-ok",
            ])
        #expect(configuration.bootstrapAdminPassword == "sixteen-bytes-ok")
        // 73 bytes: more than bcrypt reads.
        #expect(throws: ConfigError.self) { try self.configuration(environment: ["AUTH_BOOTSTRAP_ADMIN_PASSWORD": String(repeating: "p", count: 73)]) }
    }
}
