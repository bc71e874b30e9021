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
        #expect(configuration.login.usernamePolicy == "login_username")
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
        let configuration = try self.configuration("login:\n  ip_policy: none\n")
        #expect(configuration.login.ipPolicy.isEmpty)
        #expect(configuration.login.usernamePolicy == "login_username")
    }
}
