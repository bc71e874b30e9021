import GatehouseAuthAPI
import GatehouseConfig
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis

/// Everything the `auth-issuer` executable reads from its configuration file and `AUTH_*` variables
/// (docs/configuration.md, "auth-issuer").
public struct AuthIssuerConfiguration: Sendable {
    /// The environment variable prefix.
    public static let environmentPrefix = "AUTH"
    /// The default public HTTP port.
    public static let defaultHTTPPort = 8081
    /// The default RPC port (`auth.RevocationState` for edge routers).
    public static let defaultRPCPort = 7103
    /// The default admin (metrics, health) port.
    public static let defaultAdminPort = 9103
    /// The limiter's default RPC port.
    public static let defaultLimiterPort = 7101

    /// The public HTTP server: address, port and the largest request body.
    public struct HTTP: Sendable {
        /// The address to bind (`http.host`).
        public var host = "127.0.0.1"
        /// The port to bind (`http.port`).
        public var port = AuthIssuerConfiguration.defaultHTTPPort
        /// The largest request body accepted (`http.max_body_bytes`); larger gets `413`.
        public var maxBodyBytes = 16 * 1024
        /// Creates the defaults.
        public init() {}
    }

    /// Brute-force protection of the password grant through the limiter (`login.*`).
    public struct Login: Sendable {
        /// The limiter policy counting failed logins per username (`login.username_policy`); `none` in the
        /// configuration, empty here: not counted.
        public var usernamePolicy = "login_username"
        /// The limiter policy counting failed logins per client IP (`login.ip_policy`); `none`: not counted.
        public var ipPolicy = "login_ip"
        /// Creates the defaults.
        public init() {}
    }

    /// The public HTTP server (`http.*`).
    public var http = HTTP()
    /// The RPC server (`rpc.*`).
    public var rpc: RPCServerConfiguration
    /// The limiter, for brute-force protection (`limiter.*`).
    public var limiter: RPCClientConfiguration
    /// Redis (`redis.*`), where key and revocation events are published.
    public var redis: RedisConfiguration
    /// Logs and admin server (`log.*`, `admin.*`).
    public var observability: ObservabilityConfiguration
    /// The SQLite database (`storage.path`).
    public var storagePath: String
    /// What tokens look like and how long they live (`tokens.*`, `keys.*`, `passwords.*`).
    public var tokens: TokenPolicy
    /// Brute-force protection (`login.*`).
    public var login = Login()
    /// The admin user created on first start when `bootstrap.admin_password` is set (`bootstrap.admin_user`).
    public var bootstrapAdminUser: String
    /// Its password (`bootstrap.admin_password`, best from `AUTH_BOOTSTRAP_ADMIN_PASSWORD`).
    public var bootstrapAdminPassword: String?
    /// The channel for revocation events (`events.revocations_channel`).
    public var revocationsChannel: String
    /// The channel for key events (`events.keys_channel`).
    public var keysChannel: String
    /// How often the database is checked for changes made by the CLI and for due key rotations (`events.poll_interval_ms`).
    public var pollInterval: Duration

    /// Reads the configuration and rejects keys and `AUTH_*` variables it does not know.
    /// - Parameter document: The file and environment.
    /// - Throws: ``ConfigError`` naming the bad key or variable, or `RPCConfigurationError` for a short secret.
    public init(reading document: inout ConfigDocument) throws {
        self.http.host = try document.string("http.host", default: self.http.host)
        self.http.port = try document.int("http.port", default: self.http.port, range: 0...65535)
        self.http.maxBodyBytes = try document.int("http.max_body_bytes", default: self.http.maxBodyBytes, range: 256...(1 << 20))
        self.rpc = try RPCServerConfiguration(reading: &document, defaultPort: Self.defaultRPCPort)
        self.limiter = try RPCClientConfiguration(reading: &document, section: "limiter", defaultPort: Self.defaultLimiterPort, clientName: "auth-issuer")
        self.redis = try RedisConfiguration(reading: &document)
        self.observability = try ObservabilityConfiguration(reading: &document, defaultAdminPort: Self.defaultAdminPort)
        self.storagePath = try Self.readStoragePath(&document)
        self.tokens = try TokenPolicy(reading: &document, defaultIssuer: "http://\(self.http.host):\(self.http.port == 0 ? Self.defaultHTTPPort : self.http.port)")
        // An empty value means "the default" everywhere, so turning a counter off is spelled `none`.
        let usernamePolicy = try document.string("login.username_policy", default: self.login.usernamePolicy)
        self.login.usernamePolicy = usernamePolicy == "none" ? "" : usernamePolicy
        let ipPolicy = try document.string("login.ip_policy", default: self.login.ipPolicy)
        self.login.ipPolicy = ipPolicy == "none" ? "" : ipPolicy
        self.bootstrapAdminUser = try document.string(
            "bootstrap.admin_user", default: "admin", expected: "1 to \(PrincipalName.maximumLength) characters of A-Z a-z 0-9 _ . @ -"
        ) { (try? PrincipalName.validate($0, field: "bootstrap.admin_user")) != nil }
        let password = try document.string(
            "bootstrap.admin_password", default: "",
            expected: "a password of \(PasswordHasher.lengths.lowerBound) to \(PasswordHasher.lengths.upperBound) bytes",
            matching: { PasswordHasher.lengths.contains($0.utf8.count) },
            describe: { "a password of \($0.utf8.count) bytes" }
        )
        self.bootstrapAdminPassword = password.isEmpty ? nil : password
        self.revocationsChannel = try document.string("events.revocations_channel", default: RevocationEvent.defaultChannel)
        self.keysChannel = try document.string("events.keys_channel", default: SigningKeyEvent.defaultChannel)
        // At most 10 s: after a CLI rotation the retired key may sign until the next poll, inside its 60 s grace.
        self.pollInterval = try document.duration("events.poll_interval_ms", default: .milliseconds(500), range: .milliseconds(10) ... .seconds(10))
        try document.rejectUnknownKeys(valid: document.readKeys)
    }

    /// Reads `storage.path`; also used by the CLI subcommands.
    /// - Parameter document: The file and environment.
    public static func readStoragePath(_ document: inout ConfigDocument) throws(ConfigError) -> String {
        try document.string("storage.path", default: "data/auth.sqlite")
    }
}
