import GatehouseConfig
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis

/// Everything the `limiter` executable reads from its configuration file and `LIMITER_*` variables
/// (docs/configuration.md, "limiter").
package struct LimiterConfiguration: Sendable {
    /// The environment variable prefix.
    package static let environmentPrefix = "LIMITER"
    /// The default RPC port.
    package static let defaultRPCPort = 7101
    /// The default admin (metrics, health) port.
    package static let defaultAdminPort = 9101
    /// The default Redis command timeout: a decision that Redis has not answered by then is decided by
    /// the policies' fallbacks.
    package static let defaultRedisCommandTimeout = Duration.milliseconds(50)

    /// The RPC server (`rpc.*`).
    package var rpc: RPCServerConfiguration
    /// Redis (`redis.*`), with a 50 ms command timeout by default.
    package var redis: RedisConfiguration
    /// Logs and admin server (`log.*`, `admin.*`).
    package var observability: ObservabilityConfiguration
    /// The policy file (`policies.file`).
    package var policyFile: String
    /// How often the policy file is checked for changes (`policies.watch_interval_ms`); `nil`: only on SIGHUP.
    package var policyWatchInterval: Duration?
    /// Consecutive Redis failures that open the circuit breaker (`breaker.failure_threshold`).
    package var breakerFailureThreshold: Int
    /// How long the breaker stays open before one probe (`breaker.open_ms`).
    package var breakerOpenDuration: Duration
    /// The most denials remembered by the denial cache (`denial_cache.capacity`).
    package var denialCacheCapacity: Int
    /// How leases are granted (`leases.period_ms`, `leases.max_share_percent`).
    package var leases: LeaseSettings

    /// Reads the configuration and rejects keys and `LIMITER_*` variables it does not know.
    /// - Parameter document: The file and environment.
    /// - Throws: ``ConfigError`` naming the bad key or variable, or `RPCConfigurationError` for a short secret.
    package init(reading document: inout ConfigDocument) throws {
        self.rpc = try RPCServerConfiguration(reading: &document, defaultPort: Self.defaultRPCPort)
        var redisDefaults = RedisConfiguration()
        redisDefaults.commandTimeout = Self.defaultRedisCommandTimeout
        self.redis = try RedisConfiguration(reading: &document, defaults: redisDefaults)
        self.observability = try ObservabilityConfiguration(reading: &document, defaultAdminPort: Self.defaultAdminPort)
        self.policyFile = try document.string("policies.file", default: "policies.yaml")
        let watch = try document.int("policies.watch_interval_ms", default: 1000, range: 0...3_600_000)
        self.policyWatchInterval = watch == 0 ? nil : .milliseconds(watch)
        self.breakerFailureThreshold = try document.int("breaker.failure_threshold", default: 5, range: 1...1000)
        self.breakerOpenDuration = try document.duration("breaker.open_ms", default: .milliseconds(500), range: .milliseconds(10) ... .seconds(60))
        self.denialCacheCapacity = try document.int("denial_cache.capacity", default: 100_000, range: 0...10_000_000)
        self.leases = LeaseSettings(
            period: try document.duration("leases.period_ms", default: .seconds(1), range: .milliseconds(10) ... .seconds(60)),
            maxSharePercent: try document.int("leases.max_share_percent", default: 5, range: 0...50)
        )
        try document.rejectUnknownKeys(valid: document.readKeys)
    }
}
