import GatehouseAuthAPI
import GatehouseConfig
import GatehouseDataAPI
import GatehouseObservability
import GatehouseRPC
import GatehouseRedis

/// Everything the `edge-router` executable reads from its configuration file and `EDGE_*` variables
/// (docs/configuration.md, "edge-router").
package struct EdgeConfiguration: Sendable {
    /// The environment variable prefix.
    package static let environmentPrefix = "EDGE"
    /// The default public HTTP port (the first local replica; a load balancer listens on 8080).
    package static let defaultHTTPPort = 8180
    /// The default admin (metrics, health) port.
    package static let defaultAdminPort = 9104

    /// The public HTTP server (`http.*`).
    package struct HTTP: Sendable {
        /// The address to bind (`http.host`).
        package var host = "127.0.0.1"
        /// The port (`http.port`).
        package var port = EdgeConfiguration.defaultHTTPPort
        /// The largest request body (`http.max_body_bytes`); larger gets `413`.
        package var maxBodyBytes = 1 << 20 + 4096
        /// A connection idle this long is closed (`http.idle_timeout_ms`).
        package var idleTimeout = Duration.seconds(60)
        /// From its head, a request must arrive in full and be answered within this time, else its
        /// connection is closed (`http.request_timeout_ms`).
        package var requestTimeout = Duration.seconds(30)
        /// A request head (request line and header fields) must be complete within this time of the read
        /// that brought its first bytes, else its connection is closed (`http.head_timeout_ms`).
        package var headTimeout = Duration.seconds(10)
        /// The largest request head: the target, header names and values, in bytes (`http.max_head_bytes`);
        /// larger gets `431` and the connection is closed.
        package var maxHeadBytes = 32 * 1024
        /// The most connections held at once (`http.max_connections`); one more is answered `503` and closed.
        package var maxConnections = 10_000
        /// Peers whose `X-Forwarded-For` names the client (`http.trusted_proxies`); none by default.
        package var trustedProxies = TrustedProxies.none
    }

    /// The public HTTP server.
    package var http = HTTP()
    /// The limiter (`limiter.*`).
    package var limiter: RPCClientConfiguration
    /// The data service (`data.*`).
    package var data: RPCClientConfiguration
    /// The auth issuer's RPC port, for the revocation state (`auth.*`).
    package var authRPC: RPCClientConfiguration
    /// Redis (`redis.*`), for invalidation, revocation and key events.
    package var redis: RedisConfiguration
    /// Logs and admin server (`log.*`, `admin.*`).
    package var observability: ObservabilityConfiguration
    /// The issuer's JWKS document (`auth.jwks_url`).
    package var jwksURL: String
    /// The required `iss` (`auth.issuer`).
    package var issuer: String
    /// The required `aud` (`auth.audience`).
    package var audience: String
    /// Clock skew allowed on `exp` and `nbf` (`auth.leeway_ms`).
    package var leeway: Duration
    /// The limiter policy counting failed token verifications per client address (`auth.failure_policy`);
    /// `nil` when set to `none`.
    package var failurePolicy: String?
    /// The route file (`routes.file`).
    package var routesFile: String
    /// How often the route file is checked for changes (`routes.watch_interval_ms`); `nil`: only on `SIGHUP`.
    package var routesWatchInterval: Duration?
    /// The limiter's policy file (`policies.file`; formerly `fallback.policies_file`): each policy's key
    /// parts, and its `on_redis_failure` while the limiter cannot be asked. Every policy the route file
    /// names must be in it.
    package var policiesFile: String
    /// How often that file is checked for changes (`policies.watch_interval_ms`; formerly
    /// `fallback.watch_interval_ms`); `nil`: only on `SIGHUP`.
    package var policiesWatchInterval: Duration?
    /// The request header whose value is the `api_key` key part (`policies.api_key_header`), lower-case;
    /// `nil`: none, and a policy keyed by `api_key` is refused.
    package var apiKeyHeader: String?
    /// The cache's byte budget (`cache.max_bytes`).
    package var cacheMaxBytes: Int
    /// The data service's invalidation channel (`events.invalidations_channel`).
    package var invalidationsChannel: String
    /// The channel of path invalidations (`events.path_invalidations_channel`): published by the edges
    /// after writes through HTTP upstream routes, and by anything else that changed an upstream's data.
    package var pathInvalidationsChannel: String
    /// The issuer's revocation and key channels (`events.revocations_channel`, `events.keys_channel`).
    package var authEventChannels: AuthEventChannels

    /// Reads the configuration and rejects keys and `EDGE_*` variables it does not know.
    /// - Throws: ``ConfigError`` naming the bad key or variable, `RPCConfigurationError` for a short secret, or
    ///   ``JWKSFetcher/Failure`` for an `auth.jwks_url` that is not `http://host[:port]/path`.
    package init(reading document: inout ConfigDocument) throws {
        (self.http.host, self.http.port) = try document.listenAddress("http", defaultHost: self.http.host, defaultPort: self.http.port)
        self.http.maxBodyBytes = try document.int("http.max_body_bytes", default: self.http.maxBodyBytes, range: 1024...(64 << 20))
        self.http.idleTimeout = try document.duration("http.idle_timeout_ms", default: self.http.idleTimeout, range: .seconds(1) ... .seconds(3600))
        self.http.requestTimeout = try document.duration("http.request_timeout_ms", default: self.http.requestTimeout, range: .milliseconds(100) ... .seconds(3600))
        self.http.headTimeout = try document.duration("http.head_timeout_ms", default: self.http.headTimeout, range: .milliseconds(100) ... .seconds(3600))
        self.http.maxHeadBytes = try document.int("http.max_head_bytes", default: self.http.maxHeadBytes, range: 1024...(1 << 20))
        self.http.maxConnections = try document.int("http.max_connections", default: self.http.maxConnections, range: 1...1_000_000)
        self.http.trustedProxies = TrustedProxies(
            try document.stringList(
                "http.trusted_proxies", default: [], expected: "IP addresses (10.0.0.5, ::1) or IPv4 networks (10.0.0.0/8)"
            ) { TrustedProxies([$0]) != nil }
        ) ?? .none
        self.limiter = try RPCClientConfiguration(reading: &document, section: "limiter", defaultPort: 7101, clientName: "edge-router")
        // A limiter back after an outage takes over from the fallbacks within about a second: the edge tries to
        // reconnect at least every 500 ms (a loopback or LAN connect attempt costs next to nothing).
        self.limiter.maximumReconnectDelay = min(self.limiter.maximumReconnectDelay, .milliseconds(500))
        self.data = try RPCClientConfiguration(reading: &document, section: "data", defaultPort: 7102, clientName: "edge-router")
        self.authRPC = try RPCClientConfiguration(reading: &document, section: "auth", defaultPort: 7103, clientName: "edge-router")
        self.redis = try RedisConfiguration(reading: &document)
        self.observability = try ObservabilityConfiguration(reading: &document, defaultAdminPort: Self.defaultAdminPort)
        self.jwksURL = try document.string("auth.jwks_url", default: "http://127.0.0.1:8081/.well-known/jwks.json")
        self.issuer = try document.string("auth.issuer", default: "http://127.0.0.1:8081")
        self.audience = try document.string("auth.audience", default: "gatehouse")
        self.leeway = try document.duration("auth.leeway_ms", default: .seconds(30), range: .zero ... RevocationRetention.largestLeeway)
        let failurePolicy = try document.string("auth.failure_policy", default: "auth_failures")
        self.failurePolicy = failurePolicy == "none" ? nil : failurePolicy
        self.routesFile = try document.string("routes.file", default: "config/routes.yaml")
        let watch = try document.int("routes.watch_interval_ms", default: 1000, range: 0...3_600_000)
        self.routesWatchInterval = watch == 0 ? nil : .milliseconds(watch)
        try document.acceptFormerName("fallback.policies_file", of: "policies.file")
        try document.acceptFormerName("fallback.watch_interval_ms", of: "policies.watch_interval_ms")
        self.policiesFile = try document.string(
            "policies.file", default: "config/policies.yaml", expected: "the path of the limiter's policy file", matching: { !$0.isEmpty }
        )
        let policiesWatch = try document.int("policies.watch_interval_ms", default: 1000, range: 0...3_600_000)
        self.policiesWatchInterval = policiesWatch == 0 ? nil : .milliseconds(policiesWatch)
        let apiKeyHeader = try document.string(
            "policies.api_key_header", default: "", expected: "a header name (1 to 64 of A-Z a-z 0-9 - _ .), e.g. X-API-Key",
            matching: { $0.count <= 64 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) } }
        )
        self.apiKeyHeader = apiKeyHeader.isEmpty ? nil : apiKeyHeader.lowercased()
        self.cacheMaxBytes = try document.int("cache.max_bytes", default: 64 << 20, range: (1 << 16)...(64 << 30))
        self.invalidationsChannel = try document.string("events.invalidations_channel", default: InvalidationMessage.defaultChannel)
        let invalidationsChannel = self.invalidationsChannel
        self.pathInvalidationsChannel = try document.string(
            "events.path_invalidations_channel", default: PathInvalidationMessage.defaultChannel,
            expected: "a channel name other than events.invalidations_channel", matching: { !$0.isEmpty && $0 != invalidationsChannel }
        )
        self.authEventChannels = try AuthEventChannels(reading: &document)
        try document.rejectUnknownKeys(valid: document.readKeys)
        _ = try JWKSFetcher(url: self.jwksURL)
    }
}
