import GatehouseConfig

extension RedisConfiguration {
    /// Reads the `redis.*` keys (docs/configuration.md, "Redis"): `redis.host`, `redis.port`,
    /// `redis.username`, `redis.password`, `redis.database`, `redis.connect_timeout_ms`,
    /// `redis.command_timeout_ms`, `redis.pool_size`.
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - defaults: The values of keys that are not set; a service may change them (the limiter's
    ///     command timeout is 50 ms).
    /// - Throws: ``ConfigError`` naming the bad key; a `redis.password` shorter than 16 bytes or still an
    ///   example value is one.
    public init(reading document: inout ConfigDocument, defaults: RedisConfiguration = RedisConfiguration()) throws(ConfigError) {
        self = defaults
        self.host = try document.host("redis.host", default: defaults.host)
        self.port = try document.int("redis.port", default: defaults.port, range: 1...65535)
        let username = try document.string("redis.username", default: "")
        self.username = username.isEmpty ? nil : username
        // Refused when shorter than 16 bytes or still an example value (`replace-me`).
        self.password = try document.secret("redis.password")
        self.database = try document.int("redis.database", default: defaults.database, range: 0...15)
        self.connectTimeout = try document.duration(
            "redis.connect_timeout_ms",
            default: defaults.connectTimeout,
            range: .milliseconds(1) ... .seconds(60)
        )
        self.commandTimeout = try document.duration(
            "redis.command_timeout_ms",
            default: defaults.commandTimeout,
            range: .milliseconds(1) ... .seconds(60)
        )
        self.poolSize = try document.int("redis.pool_size", default: defaults.poolSize, range: 1...64)
    }
}
