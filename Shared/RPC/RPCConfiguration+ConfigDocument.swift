import GatehouseConfig

extension RPCSecret {
    /// Reads the shared service secret from `rpc.secret` (required; usually from the environment,
    /// e.g. `LIMITER_RPC_SECRET`).
    /// - Parameter document: The service's configuration.
    /// - Throws: ``ConfigError`` naming the key and the variable when it is missing, shorter than 16 bytes
    ///   or still an example value (`replace-me`).
    public init(reading document: inout ConfigDocument) throws {
        try self.init(try document.requiredSecret("rpc.secret"))
    }
}

extension RPCServerConfiguration {
    /// Reads the server's `rpc.*` keys (docs/configuration.md, "RPC server"):
    /// `rpc.host`, `rpc.port`, `rpc.secret`, `rpc.max_frame_bytes`, `rpc.max_in_flight`,
    /// `rpc.handshake_timeout_ms`, `rpc.default_call_timeout_ms`.
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - defaultPort: The service's own default port.
    /// - Throws: ``ConfigError`` naming the bad key, or ``RPCConfigurationError`` for a short secret.
    public init(reading document: inout ConfigDocument, defaultPort: Int) throws {
        let defaults = RPCServerConfiguration(secret: try RPCSecret(reading: &document))
        self = defaults
        (self.host, self.port) = try document.listenAddress("rpc", defaultHost: defaults.host, defaultPort: defaultPort)
        self.maximumFrameBytes = try document.int("rpc.max_frame_bytes", default: defaults.maximumFrameBytes, range: RPCFrameLimit.settingRange)
        self.maximumInFlightPerConnection = try document.int(
            "rpc.max_in_flight",
            default: defaults.maximumInFlightPerConnection,
            range: 1...65536
        )
        self.handshakeTimeout = try document.duration(
            "rpc.handshake_timeout_ms",
            default: defaults.handshakeTimeout,
            range: .milliseconds(10) ... .seconds(60)
        )
        self.defaultCallTimeout = try document.duration(
            "rpc.default_call_timeout_ms",
            default: defaults.defaultCallTimeout,
            range: .milliseconds(1) ... .seconds(300)
        )
    }
}

extension RPCClientConfiguration {
    /// Reads the keys of one peer under `section` (docs/configuration.md, "RPC clients"), e.g. for
    /// `section: "limiter"`: `limiter.host`, `limiter.port`, `limiter.connections`,
    /// `limiter.max_frame_bytes`, `limiter.connect_timeout_ms`, `limiter.call_timeout_ms`. The secret is
    /// the shared `rpc.secret`.
    /// - Parameters:
    ///   - document: The service's configuration.
    ///   - section: The peer's section name.
    ///   - defaultPort: The peer's default port.
    ///   - clientName: This service's name, shown in the peer's logs.
    /// - Throws: ``ConfigError`` naming the bad key, or ``RPCConfigurationError`` for a short secret.
    public init(reading document: inout ConfigDocument, section: String, defaultPort: Int, clientName: String) throws {
        let secret = try RPCSecret(reading: &document)
        let defaults = RPCClientConfiguration(host: "127.0.0.1", port: defaultPort, secret: secret, clientName: clientName)
        self = defaults
        self.host = try document.host("\(section).host", default: defaults.host)
        self.port = try document.int("\(section).port", default: defaultPort, range: 1...65535)
        self.connections = try document.int("\(section).connections", default: defaults.connections, range: 1...64)
        self.maximumFrameBytes = try document.int("\(section).max_frame_bytes", default: defaults.maximumFrameBytes, range: RPCFrameLimit.settingRange)
        self.connectTimeout = try document.duration(
            "\(section).connect_timeout_ms",
            default: defaults.connectTimeout,
            range: .milliseconds(10) ... .seconds(60)
        )
        self.defaultCallTimeout = try document.duration(
            "\(section).call_timeout_ms",
            default: defaults.defaultCallTimeout,
            range: .milliseconds(1) ... .seconds(300)
        )
    }
}
