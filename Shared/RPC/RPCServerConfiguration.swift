/// How an ``RPCServer`` listens and what it accepts.
public struct RPCServerConfiguration: Sendable {
    /// The address to bind; loopback by default.
    public var host: String
    /// The port to bind; 0 picks a free one (read it with ``RPCServer/localPort()``).
    public var port: Int
    /// The shared service secret clients must prove they know.
    public var secret: RPCSecret
    /// The largest frame payload accepted, in bytes, announced to clients in the hello; a longer request is
    /// answered `FRAME_TOO_LARGE` without being read.
    public var maximumFrameBytes: Int
    /// How many calls one connection may have running at once; further frames wait unread (TCP backpressure).
    public var maximumInFlightPerConnection: Int
    /// How long a new connection has to complete the handshake.
    public var handshakeTimeout: Duration
    /// The deadline given to handlers when a request carries no timeout.
    public var defaultCallTimeout: Duration

    /// Creates a configuration; every value but the secret has a production default.
    /// - Parameters:
    ///   - host: The address to bind (default `127.0.0.1`).
    ///   - port: The port to bind (default 0: any free port).
    ///   - secret: The shared service secret.
    ///   - maximumFrameBytes: The largest frame accepted (default 4 MiB).
    ///   - maximumInFlightPerConnection: Concurrent calls per connection (default 256).
    ///   - handshakeTimeout: Time allowed for the handshake (default 5 s).
    ///   - defaultCallTimeout: Handler deadline when the request names none (default 5 s).
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        secret: RPCSecret,
        maximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes,
        maximumInFlightPerConnection: Int = 256,
        handshakeTimeout: Duration = .seconds(5),
        defaultCallTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.secret = secret
        self.maximumFrameBytes = maximumFrameBytes
        self.maximumInFlightPerConnection = maximumInFlightPerConnection
        self.handshakeTimeout = handshakeTimeout
        self.defaultCallTimeout = defaultCallTimeout
    }
}
