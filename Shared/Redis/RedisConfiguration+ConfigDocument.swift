import GatehouseConfig

extension RedisConfiguration {
    /// Reads the `redis.*` keys (docs/configuration.md, "Redis"): `redis.host`, `redis.port`,
    /// `redis.username`, `redis.password`, `redis.database`, `redis.connect_timeout_ms`,
    /// `redis.command_timeout_ms`, `redis.pool_size`, `redis.mode` (`single` or `sentinel`),
    /// `redis.sentinel.addresses`, `redis.sentinel.master_name`.
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - defaults: The values of keys that are not set; a service may change them (the limiter's
    ///     command timeout is 50 ms).
    /// - Throws: ``ConfigError`` naming the bad key; a `redis.password` shorter than 16 bytes or still an
    ///   example value is one, and so are a `redis.sentinel.*` key in single mode, `redis.host` or `redis.port`
    ///   in sentinel mode, and sentinel mode without addresses or master name.
    public init(reading document: inout ConfigDocument, defaults: RedisConfiguration = RedisConfiguration()) throws(ConfigError) {
        self = defaults
        let mode = try document.string("redis.mode", default: "single", allowed: ["single", "sentinel"])
        if mode == "sentinel" {
            self.topology = try Self.sentinelTopology(reading: &document)
        } else {
            self.topology = .single
            self.host = try document.host("redis.host", default: defaults.host)
            self.port = try document.int("redis.port", default: defaults.port, range: 1...65535)
            for key in ["redis.sentinel.addresses", "redis.sentinel.master_name"] {
                try document.refuse(key, because: "it is only read when redis.mode is sentinel")
            }
        }
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

    /// Reads `redis.sentinel.*`, and refuses `redis.host` and `redis.port`: the sentinels name the primary.
    private static func sentinelTopology(reading document: inout ConfigDocument) throws(ConfigError) -> RedisTopology {
        for key in ["redis.host", "redis.port"] {
            try document.refuse(key, because: "in sentinel mode the sentinels name the primary (redis.sentinel.addresses)")
        }
        let addresses = try document.requiredStringList(
            "redis.sentinel.addresses",
            expected: "host:port addresses of sentinels (port 1...65535, an IPv6 address in brackets)",
            eachMatching: { RedisServerAddress(parsing: $0) != nil }
        )
        return .sentinel(
            masterName: try document.requiredString("redis.sentinel.master_name"),
            sentinels: addresses.compactMap(RedisServerAddress.init(parsing:))
        )
    }
}
