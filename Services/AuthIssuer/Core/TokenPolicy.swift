import GatehouseAuthAPI
import GatehouseConfig

/// What the issuer's tokens look like and how long everything lives (`tokens.*`, `keys.*`, `passwords.*`).
package struct TokenPolicy: Sendable {
    /// The signature algorithms the issuer can sign with.
    package enum Algorithm: String, Sendable, CaseIterable {
        /// ECDSA P-256 with SHA-256.
        case es256 = "ES256"
        /// Ed25519.
        case eddsa = "EdDSA"
    }

    /// The accepted access-token lifetimes (5 to 15 minutes; revocations are kept for the longest).
    package static let accessLifetimes = Duration.seconds(300) ... RevocationRetention.longestAccessLifetime

    /// The `iss` claim and the base of the discovery document's URLs (`tokens.issuer`).
    package var issuer: String
    /// The `aud` claim (`tokens.audience`).
    package var audience: String
    /// How long access tokens are valid (`tokens.access_lifetime_s`, 300…900, default 600).
    package var accessLifetime: Duration
    /// A refresh token unused for this long expires (`tokens.refresh_idle_lifetime_s`, default 14 days).
    package var refreshIdleLifetime: Duration
    /// A refresh-token family expires this long after its first token, however often it is used
    /// (`tokens.refresh_absolute_lifetime_s`, default 30 days).
    package var refreshAbsoluteLifetime: Duration
    /// Refresh-token families (logins) a user may hold at once (`tokens.max_refresh_families_per_user`,
    /// 1…10000, default 50): a login past it revokes the user's oldest family.
    package var maxRefreshFamiliesPerUser: Int
    /// The scopes a user may ask for (`tokens.user_scopes`, default `read write`).
    package var userScopes: [String]
    /// The algorithm of newly generated keys (`keys.algorithm`, `ES256` or `EdDSA`).
    package var algorithm: Algorithm
    /// How long a key signs before the next one takes over (`keys.rotation_interval_s`, default 1 day).
    package var rotationInterval: Duration
    /// The bcrypt cost of new password hashes (`passwords.bcrypt_cost`, 4…16, default 12).
    package var bcryptCost: Int

    /// How long a retired key stays in the JWKS: until every token it signed has expired, plus a minute for clock skew.
    package var retiredKeyGrace: Duration { self.accessLifetime + .seconds(60) }

    /// Creates a policy with the defaults.
    /// - Parameter issuer: The `iss` claim.
    package init(issuer: String) {
        self.issuer = issuer
        self.audience = "gatehouse"
        self.accessLifetime = .seconds(600)
        self.refreshIdleLifetime = .seconds(14 * 86_400)
        self.refreshAbsoluteLifetime = .seconds(30 * 86_400)
        self.maxRefreshFamiliesPerUser = 50
        self.userScopes = ["read", "write"]
        self.algorithm = .es256
        self.rotationInterval = .seconds(86_400)
        self.bcryptCost = 12
    }

    /// Reads the keys (docs/configuration.md, "auth-issuer").
    /// - Parameters:
    ///   - document: The file and environment.
    ///   - defaultIssuer: The issuer when `tokens.issuer` is unset.
    /// - Throws: ``ConfigError`` naming the bad key.
    package init(reading document: inout ConfigDocument, defaultIssuer: String) throws(ConfigError) {
        self.init(issuer: try document.string("tokens.issuer", default: defaultIssuer))
        self.audience = try document.string("tokens.audience", default: self.audience)
        self.accessLifetime = .seconds(
            try document.int(
                "tokens.access_lifetime_s", default: 600,
                range: Int(Self.accessLifetimes.lowerBound.components.seconds)...Int(Self.accessLifetimes.upperBound.components.seconds)
            ))
        self.refreshIdleLifetime = .seconds(try document.int("tokens.refresh_idle_lifetime_s", default: 14 * 86_400, range: 60...(366 * 86_400)))
        self.refreshAbsoluteLifetime = .seconds(try document.int("tokens.refresh_absolute_lifetime_s", default: 30 * 86_400, range: 60...(3 * 366 * 86_400)))
        self.maxRefreshFamiliesPerUser = try document.int("tokens.max_refresh_families_per_user", default: self.maxRefreshFamiliesPerUser, range: 1...10_000)
        self.userScopes = try document.stringList(
            "tokens.user_scopes", default: self.userScopes, expected: "scope names of A-Z a-z 0-9 _ . : -"
        ) { ScopeSet.isValidScope($0) }
        let algorithm = try document.string("keys.algorithm", default: Algorithm.es256.rawValue, allowed: Algorithm.allCases.map(\.rawValue))
        self.algorithm = Algorithm(rawValue: algorithm) ?? .es256
        self.rotationInterval = .seconds(try document.int("keys.rotation_interval_s", default: 86_400, range: 60...(366 * 86_400)))
        self.bcryptCost = try document.int("passwords.bcrypt_cost", default: 12, range: 4...16)
    }
}
