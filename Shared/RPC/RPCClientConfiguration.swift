/// Where an ``RPCClient`` connects and how it behaves when the peer is slow or gone.
public struct RPCClientConfiguration: Sendable {
    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The shared service secret.
    public var secret: RPCSecret
    /// This client's name in the server's logs, e.g. `edge-router`.
    public var clientName: String
    /// How many connections to keep open to the server, spread over the event loops; a call made on an
    /// event loop uses that loop's connection, other calls are spread over them.
    public var connections: Int
    /// The largest answer frame payload accepted, in bytes, announced to the server in the hello; a longer
    /// answer fails its call with `FRAME_TOO_LARGE` without being read.
    public var maximumFrameBytes: Int
    /// Time allowed to connect and complete the handshake.
    public var connectTimeout: Duration
    /// The deadline of a call that names none.
    public var defaultCallTimeout: Duration
    /// The first reconnect delay; it doubles per failed attempt, with jitter, up to ``maximumReconnectDelay``.
    public var initialReconnectDelay: Duration
    /// The longest reconnect delay.
    public var maximumReconnectDelay: Duration

    /// Creates a configuration; every value but the peer and secret has a production default.
    /// - Parameters:
    ///   - host: The server's host.
    ///   - port: The server's port.
    ///   - secret: The shared service secret.
    ///   - clientName: This client's name in the server's logs (default `gatehouse`).
    ///   - connections: Connections kept open (default 2).
    ///   - maximumFrameBytes: The largest answer accepted (default 4 MiB).
    ///   - connectTimeout: Connect plus handshake time (default 1 s).
    ///   - defaultCallTimeout: Deadline of calls that name none (default 1 s).
    ///   - initialReconnectDelay: First reconnect delay (default 50 ms).
    ///   - maximumReconnectDelay: Longest reconnect delay (default 5 s).
    public init(
        host: String,
        port: Int,
        secret: RPCSecret,
        clientName: String = "gatehouse",
        connections: Int = 2,
        maximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes,
        connectTimeout: Duration = .seconds(1),
        defaultCallTimeout: Duration = .seconds(1),
        initialReconnectDelay: Duration = .milliseconds(50),
        maximumReconnectDelay: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.secret = secret
        self.clientName = clientName
        self.connections = connections
        self.maximumFrameBytes = maximumFrameBytes
        self.connectTimeout = connectTimeout
        self.defaultCallTimeout = defaultCallTimeout
        self.initialReconnectDelay = initialReconnectDelay
        self.maximumReconnectDelay = maximumReconnectDelay
    }
}
