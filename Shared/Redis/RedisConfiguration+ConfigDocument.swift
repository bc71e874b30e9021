import GatehouseConfig

extension RedisConfiguration {
    /// Reads the `redis.*` keys (docs/configuration.md, "Redis"): `redis.host`, `redis.port`,
    /// `redis.username`, `redis.password`, `redis.database`, `redis.connect_timeout_ms`,
    /// `redis.command_timeout_ms`, `redis.pool_size`, `redis.mode` (`single`, `cluster` or `sentinel`),
    /// `redis.cluster.seeds`, `redis.sentinel.addresses`, `redis.sentinel.master_name`.
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - defaults: The values of keys that are not set; a service may change them (the limiter's
    ///     command timeout is 50 ms).
    /// - Throws: ``ConfigError`` naming the bad key; a `redis.password` shorter than 16 bytes or still an
    ///   example value is one, and so is a key of another mode: `redis.host` or `redis.port` outside single
    ///   mode, `redis.cluster.seeds` outside cluster mode, `redis.sentinel.*` outside sentinel mode; so are
    ///   cluster mode without seeds or with a `redis.database` other than 0, and sentinel mode without
    ///   addresses or master name.
    public init(reading document: inout ConfigDocument, defaults: RedisConfiguration = RedisConfiguration()) throws(ConfigError) {
        self = defaults
        let mode = try document.string("redis.mode", default: "single", allowed: ["single", "cluster", "sentinel"])
        for (key, owningMode) in Self.modeKeys where owningMode != mode {
            try document.refuse(key, because: "it is only read when redis.mode is \(owningMode)")
        }
        switch mode {
        case "cluster":
            self.topology = .cluster(seeds: try Self.addresses(
                "redis.cluster.seeds",
                of: "cluster nodes",
                reading: &document
            ))
        case "sentinel":
            self.topology = .sentinel(
                masterName: try document.requiredString("redis.sentinel.master_name"),
                sentinels: try Self.addresses("redis.sentinel.addresses", of: "sentinels", reading: &document)
            )
        default:
            self.topology = .single
            self.host = try document.host("redis.host", default: defaults.host)
            self.port = try document.int("redis.port", default: defaults.port, range: 1...65535)
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
        if mode == "cluster" && self.database != 0 {
            throw document.mismatch(
                "redis.database",
                with: "redis.mode",
                problem: "is \(self.database) but must be 0 when redis.mode is cluster (a Redis Cluster has database 0 only)"
            )
        }
    }

    /// The keys that only one `redis.mode` reads, with that mode; refused in the others.
    private static let modeKeys = [
        ("redis.host", "single"),
        ("redis.port", "single"),
        ("redis.cluster.seeds", "cluster"),
        ("redis.sentinel.addresses", "sentinel"),
        ("redis.sentinel.master_name", "sentinel"),
    ]

    /// Reads a required list of `host:port` addresses (``RedisServerAddress/init(parsing:)``).
    private static func addresses(_ key: String, of what: String, reading document: inout ConfigDocument) throws(ConfigError) -> [RedisServerAddress] {
        try document.requiredStringList(
            key,
            expected: "host:port addresses of \(what) (port 1...65535, an IPv6 address in brackets)",
            eachMatching: { RedisServerAddress(parsing: $0) != nil }
        ).compactMap(RedisServerAddress.init(parsing:))
    }
}
