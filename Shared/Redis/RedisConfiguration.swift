/// Where a Redis server is and how to talk to it.
///
/// All values have defaults for a local development server; set only what differs.
public struct RedisConfiguration: Sendable {
    /// How the server is found: one address (``host`` and ``port``), a Redis Cluster's seeds, or the primary the
    /// sentinels name.
    public var topology: RedisTopology
    /// Host name or IP address of the server (used with ``RedisTopology/single`` only).
    public var host: String
    /// TCP port of the server (used with ``RedisTopology/single`` only).
    public var port: Int
    /// ACL user name for `AUTH`; `nil` authenticates with the password only (the `default` user).
    public var username: String?
    /// Password for `AUTH`; `nil` skips authentication.
    public var password: String?
    /// Database number selected with `SELECT` after connecting (`0` sends no `SELECT`).
    public var database: Int
    /// How long opening a TCP connection may take.
    public var connectTimeout: Duration
    /// How long Redis may take to answer one command. On expiry the caller gets ``RedisError/Code/commandTimeout``
    /// and the connection is closed (its other in-flight commands fail with ``RedisError/Code/connectionClosed``).
    public var commandTimeout: Duration
    /// Number of pipelined connections ``RedisClient`` keeps; commands are spread across them round-robin.
    public var poolSize: Int
    /// Delay before the first reconnect attempt after a failure; doubled (with jitter) on each further failure.
    public var reconnectInitialBackoff: Duration
    /// Upper bound of the reconnect delay.
    public var reconnectMaximumBackoff: Duration

    /// Creates a configuration; every parameter has a default suitable for a local server.
    public init(
        topology: RedisTopology = .single,
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connectTimeout: Duration = .milliseconds(250),
        commandTimeout: Duration = .milliseconds(1000),
        poolSize: Int = 2,
        reconnectInitialBackoff: Duration = .milliseconds(50),
        reconnectMaximumBackoff: Duration = .seconds(2)
    ) {
        self.topology = topology
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.poolSize = poolSize
        self.reconnectInitialBackoff = reconnectInitialBackoff
        self.reconnectMaximumBackoff = reconnectMaximumBackoff
    }

    /// "host:port", the cluster's seeds, or the primary's name and its sentinels, for messages and logs.
    var endpoint: String {
        switch self.topology {
        case .single:
            return "\(self.host):\(self.port)"
        case .cluster(let seeds):
            return "cluster " + seeds.map(\.description).joined(separator: ",")
        case .sentinel(let masterName, let sentinels):
            return "primary '\(masterName)' of sentinels \(sentinels.map(\.description).joined(separator: ","))"
        }
    }

    /// The same settings for the server at `address` (a cluster node or seed, a sentinel's primary), in
    /// ``RedisTopology/single`` mode.
    func addressed(to address: RedisServerAddress) -> RedisConfiguration {
        var configuration = self
        configuration.topology = .single
        configuration.host = address.host
        configuration.port = address.port
        return configuration
    }
}
