import GatehouseConfig

extension RedisConfiguration {
    /// Reads the `redis.*` keys (docs/configuration.md, "Redis"): `redis.host`, `redis.port`,
    /// `redis.username`, `redis.password`, `redis.database`, `redis.connect_timeout_ms`,
    /// `redis.command_timeout_ms`, `redis.pool_size`, `redis.mode` and `redis.cluster.seeds`.
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - defaults: The values of keys that are not set; a service may change them (the limiter's
    ///     command timeout is 50 ms).
    /// - Throws: ``ConfigError`` naming the bad key; a `redis.password` shorter than 16 bytes or still an
    ///   example value is one, and so are `redis.mode: cluster` without `redis.cluster.seeds` or with a
    ///   `redis.database` other than 0, and seeds without `redis.mode: cluster`.
    public init(reading document: inout ConfigDocument, defaults: RedisConfiguration = RedisConfiguration()) throws(ConfigError) {
        self = defaults
        self.host = try document.string("redis.host", default: defaults.host)
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
        self.topology = try Self.topology(reading: &document, database: self.database)
    }

    private static func topology(reading document: inout ConfigDocument, database: Int) throws(ConfigError) -> RedisTopology {
        let mode = try document.string("redis.mode", default: "single", allowed: ["single", "cluster"])
        let seeds = try document.stringList(
            "redis.cluster.seeds",
            default: [],
            expected: "host:port addresses of cluster nodes (port in 1...65535)",
            eachMatching: { RedisNodeAddress(parsing: $0) != nil }
        ).compactMap { RedisNodeAddress(parsing: $0) }
        guard mode == "cluster" else {
            guard seeds.isEmpty else {
                throw document.mismatch(
                    "redis.cluster.seeds",
                    with: "redis.mode",
                    problem: "is set but redis.mode is single; set redis.mode: cluster to use a Redis Cluster, or remove the seeds"
                )
            }
            return .single
        }
        guard !seeds.isEmpty else {
            throw document.mismatch(
                "redis.cluster.seeds",
                with: "redis.mode",
                problem: "needs at least one host:port of a cluster node when redis.mode is cluster"
            )
        }
        guard database == 0 else {
            throw document.mismatch(
                "redis.database",
                with: "redis.mode",
                problem: "is \(database) but must be 0 when redis.mode is cluster (a Redis Cluster has database 0 only)"
            )
        }
        return .cluster(seeds: seeds)
    }
}
