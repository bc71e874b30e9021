import GatehouseAuthAPI
import GatehouseConfig
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis

/// Everything the `auth-issuer` executable reads from its configuration file and `AUTH_*` variables
/// (docs/configuration.md, "auth-issuer").
package struct AuthIssuerConfiguration: Sendable {
    /// The environment variable prefix.
    package static let environmentPrefix = "AUTH"
    /// The default public HTTP port.
    package static let defaultHTTPPort = 8081
    /// The default RPC port (`auth.RevocationState` for edge routers).
    package static let defaultRPCPort = 7103
    /// The default admin (metrics, health) port.
    package static let defaultAdminPort = 9103
    /// The limiter's default RPC port.
    package static let defaultLimiterPort = 7101

    /// The public HTTP server: address, port and the largest request body.
    package struct HTTP: Sendable {
        /// The address to bind (`http.host`).
        package var host = "127.0.0.1"
        /// The port to bind (`http.port`).
        package var port = AuthIssuerConfiguration.defaultHTTPPort
        /// The largest request body accepted (`http.max_body_bytes`); larger gets `413`.
        package var maxBodyBytes = 16 * 1024
        /// Creates the defaults.
        package init() {}
    }

    /// The bounds of bcrypt work (`passwords.max_concurrent_hashes`, `passwords.max_waiting_hashes`).
    package struct PasswordHashing: Sendable {
        /// Hashes that may run at once; by default one per core.
        package var concurrency = PasswordHashingQueue.defaultConcurrency
        /// Hashes that may wait for a turn; past them a login gets `503` with `Retry-After`.
        package var waitingLimit = PasswordHashingQueue.defaultWaitingLimit
        /// Creates the defaults.
        package init() {}
    }

    /// The public HTTP server (`http.*`).
    package var http = HTTP()
    /// The RPC server (`rpc.*`).
    package var rpc: RPCServerConfiguration
    /// The limiter, for brute-force protection (`limiter.*`).
    package var limiter: RPCClientConfiguration
    /// Redis (`redis.*`), where key and revocation events are published.
    package var redis: RedisConfiguration
    /// Logs and admin server (`log.*`, `admin.*`).
    package var observability: ObservabilityConfiguration
    /// The SQLite database (`storage.path`).
    package var storagePath: String
    /// What tokens look like and how long they live (`tokens.*`, `keys.*`, `passwords.*`).
    package var tokens: TokenPolicy
    /// The limiter policies of logins, refreshes and revocations (`login.*`, `refresh.policy`,
    /// `revoke.policy`); an empty name (`none` in the configuration) is not counted.
    package var throttling = IssuerThrottle.Policies()
    /// The bounds of bcrypt work (`passwords.max_concurrent_hashes`, `passwords.max_waiting_hashes`).
    package var passwordHashing = PasswordHashing()
    /// The admin user created on first start when `bootstrap.admin_password` is set (`bootstrap.admin_user`).
    package var bootstrapAdminUser: String
    /// Its password (`bootstrap.admin_password`, best from `AUTH_BOOTSTRAP_ADMIN_PASSWORD`): 16 to 72 bytes,
    /// never an example value that still contains `replace-me`.
    package var bootstrapAdminPassword: String?
    /// The channels revocation and key events are published on (`events.revocations_channel`, `events.keys_channel`).
    package var authEventChannels: AuthEventChannels
    /// How often the database is checked for changes made by the CLI and for due key rotations (`events.poll_interval_ms`).
    package var pollInterval: Duration

    /// Reads the configuration and rejects keys and `AUTH_*` variables it does not know.
    /// - Parameter document: The file and environment.
    /// - Throws: ``ConfigError`` naming the bad key or variable; a secret (`rpc.secret`, `redis.password`,
    ///   `bootstrap.admin_password`) shorter than 16 bytes or still an example value is one.
    package init(reading document: inout ConfigDocument) throws {
        (self.http.host, self.http.port) = try document.listenAddress("http", defaultHost: self.http.host, defaultPort: self.http.port)
        self.http.maxBodyBytes = try document.int("http.max_body_bytes", default: self.http.maxBodyBytes, range: 256...(1 << 20))
        self.rpc = try RPCServerConfiguration(reading: &document, defaultPort: Self.defaultRPCPort)
        self.limiter = try RPCClientConfiguration(reading: &document, section: "limiter", defaultPort: Self.defaultLimiterPort, clientName: "auth-issuer")
        self.redis = try RedisConfiguration(reading: &document)
        self.observability = try ObservabilityConfiguration(reading: &document, defaultAdminPort: Self.defaultAdminPort)
        self.storagePath = try Self.readStoragePath(&document)
        self.tokens = try TokenPolicy(reading: &document, defaultIssuer: "http://\(self.http.host):\(self.http.port == 0 ? Self.defaultHTTPPort : self.http.port)")
        self.passwordHashing.concurrency = try document.int("passwords.max_concurrent_hashes", default: self.passwordHashing.concurrency, range: 1...256)
        self.passwordHashing.waitingLimit = try document.int("passwords.max_waiting_hashes", default: self.passwordHashing.waitingLimit, range: 0...10_000)
        // An empty value means "the default" everywhere, so turning a counter off is spelled `none`.
        func policy(_ key: String, _ defaultName: String) throws(ConfigError) -> String {
            let name = try document.string(key, default: defaultName)
            return name == "none" ? "" : name
        }
        self.throttling.failedLoginsPerUsername = try policy("login.username_policy", self.throttling.failedLoginsPerUsername)
        self.throttling.failedLoginsPerAddress = try policy("login.ip_policy", self.throttling.failedLoginsPerAddress)
        self.throttling.loginsPerUsername = try policy("login.success_username_policy", self.throttling.loginsPerUsername)
        self.throttling.loginsPerAddress = try policy("login.success_ip_policy", self.throttling.loginsPerAddress)
        self.throttling.refreshesPerSubject = try policy("refresh.policy", self.throttling.refreshesPerSubject)
        self.throttling.revocationsPerCaller = try policy("revoke.policy", self.throttling.revocationsPerCaller)
        self.bootstrapAdminUser = try document.string(
            "bootstrap.admin_user", default: "admin", expected: "1 to \(PrincipalName.maximumLength) characters of A-Z a-z 0-9 _ . @ -"
        ) { (try? PrincipalName.validate($0, field: "bootstrap.admin_user")) != nil }
        // A secret: at least 16 bytes (more than a user's 8), at most bcrypt's 72, never an example value.
        self.bootstrapAdminPassword = try document.secret("bootstrap.admin_password", maximumBytes: PasswordHasher.lengths.upperBound)
        self.authEventChannels = try AuthEventChannels(reading: &document)
        // At most 10 s: after a CLI rotation the retired key may sign until the next poll, inside its 60 s grace.
        self.pollInterval = try document.duration("events.poll_interval_ms", default: .milliseconds(500), range: .milliseconds(10) ... .seconds(10))
        try document.rejectUnknownKeys(valid: document.readKeys)
    }

    /// Reads `storage.path`; also used by the CLI subcommands.
    /// - Parameter document: The file and environment.
    package static func readStoragePath(_ document: inout ConfigDocument) throws(ConfigError) -> String {
        try document.string("storage.path", default: "data/auth.sqlite")
    }
}
