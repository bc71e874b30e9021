import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A Redis client: a small pool of pipelined connections to one server (or the primary the sentinels name), or
/// one such pool per primary of a Redis Cluster (``RedisConfiguration/topology``).
///
/// Commands from any number of tasks are written to a connection at once, without waiting for earlier replies
/// (pipelining); consecutive commands go to the pool's connections round-robin. Connections open on first use.
/// Run the client as a `Service` (or call ``run()`` in a task) to open them eagerly (a single server) or read
/// the slot map at once (a cluster), reconnect after a drop with exponential backoff and jitter, and close them
/// on shutdown.
///
/// While no connection is up and the last connection attempt failed, commands fail at once with that attempt's
/// error until the backoff delay has passed, instead of piling up.
///
/// On a cluster each command goes to the primary that owns its key's hash slot (``RedisHashSlot``), following
/// `MOVED` and `ASK` answers; commands without a key (`PUBLISH`, `TIME`, `PING`, `INFO`, …) go to any primary
/// that can be reached. A command's keys must share a slot, as Redis Cluster requires.
///
/// With ``RedisTopology/sentinel(masterName:sentinels:)`` every connection goes to the primary the sentinels
/// name (asked anew on every connect, and checked with `ROLE`); after a failover (a `READONLY` answer, or the
/// sentinels' `+switch-master` heard while ``run()`` goes on) the next command connects to the new primary.
public final class RedisClient: Sendable, Service {
    private enum Nodes: Sendable {
        /// The one server, or the primary the sentinels name.
        case primary(RedisNodePool)
        /// The primaries of a Redis Cluster, by hash slot.
        case cluster(RedisClusterRouter)
    }

    private let nodes: Nodes
    private let logger: Logger

    /// Creates a client; no connection is opened until the first command or ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: Where the server (or the cluster's seeds) is and how to authenticate; `poolSize` below
    ///     1 is treated as 1 (on a cluster: per primary).
    ///   - eventLoopGroup: The event loops the connections run on.
    ///   - logger: Receives connection events (connects, drops, timeouts); commands are not logged.
    public init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        switch configuration.topology {
        case .single, .sentinel:
            // One pool, to the server or to the primary the sentinels name.
            self.nodes = .primary(
                RedisNodePool(
                    target: RedisConnectionTarget.targets(of: configuration)[0],
                    configuration: configuration,
                    eventLoopGroup: eventLoopGroup,
                    logger: logger
                )
            )
        case .cluster(let seeds):
            self.nodes = .cluster(
                RedisClusterRouter(seeds: seeds, configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
            )
        }
        self.logger = logger
    }

    /// Whether commands go to a Redis Cluster's nodes by hash slot: a script call's keys must then share one
    /// slot (``RedisHashSlot``).
    public var isCluster: Bool {
        if case .cluster = self.nodes {
            return true
        }
        return false
    }

    /// Keeps the connections open (a single server or the sentinels' primary: every pooled connection,
    /// reconnecting with backoff after drops, and following the sentinels' failover announcements; a cluster:
    /// the slot map read, connections opened as commands need them) until the task is cancelled or a graceful
    /// shutdown begins; then closes them. Commands sent afterwards fail with ``RedisError/Code/clientShutDown``.
    public func run() async throws {
        switch self.nodes {
        case .primary(let pool):
            await pool.run()
        case .cluster(let router):
            await router.run()
        }
    }

    /// Sends a command and returns its reply.
    ///
    /// - Parameter arguments: The command name and its arguments, each sent as its UTF-8 bytes, e.g. `["INCR", "hits"]`.
    /// - Throws: ``RedisError``: an error reply from Redis (``RedisError/Code/serverError``, with the server's text),
    ///   a timeout, or a connection problem; `CancellationError` if the task is cancelled while waiting.
    public func send(_ arguments: [String]) async throws -> RESPValue {
        let encoded = try RESPCommandEncoder.encode(arguments)
        return try await self.send(encoded: encoded, slot: RedisHashSlot.slot(ofCommand: arguments.map(\.utf8)))
    }

    /// Sends a command whose arguments are arbitrary bytes (binary safe) and returns its reply.
    ///
    /// - Parameter arguments: The command name and its arguments, each sent byte for byte.
    /// - Throws: The same errors as the `[String]` overload.
    public func send(_ arguments: [ByteBuffer]) async throws -> RESPValue {
        let encoded = try RESPCommandEncoder.encode(arguments)
        return try await self.send(encoded: encoded, slot: RedisHashSlot.slot(ofCommand: arguments.map(\.readableBytesView)))
    }

    /// Runs a Lua script by its SHA1 (`EVALSHA`), loading it first if Redis does not know it.
    ///
    /// On a `NOSCRIPT` reply (a new server, a restart, or `SCRIPT FLUSH`) the script is loaded with `SCRIPT LOAD`
    /// and `EVALSHA` is retried once, so callers never see `NOSCRIPT`. On a cluster both go to the node of the
    /// first key's slot, so each node loads the script the first time it runs it.
    ///
    /// - Parameters:
    ///   - script: The script to run.
    ///   - keys: The key names the script touches (`KEYS` in Lua); on a cluster they must share a hash slot.
    ///   - arguments: Further arguments (`ARGV` in Lua).
    /// - Returns: The script's reply.
    /// - Throws: ``RedisError``, for example ``RedisError/Code/serverError`` when the script raises an error.
    public func evalScript(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPValue {
        var command = ["EVALSHA", script.sha1, String(keys.count)]
        command.reserveCapacity(3 + keys.count + arguments.count)
        command.append(contentsOf: keys)
        command.append(contentsOf: arguments)
        let encoded = try RESPCommandEncoder.encode(command)
        do {
            return try await self.send(encoded: encoded, slot: Self.slot(ofKeys: keys))
        } catch let error as RedisError where error.serverErrorPrefix == "NOSCRIPT" {
            self.logger.debug("Redis does not know the script; loading it", metadata: ["sha1": "\(script.sha1)"])
            _ = try await self.send(encoded: try RESPCommandEncoder.encode(["SCRIPT", "LOAD", script.source]), slot: Self.slot(ofKeys: keys))
            return try await self.send(encoded: encoded, slot: Self.slot(ofKeys: keys))
        }
    }

    /// Publishes a text message on a channel (`PUBLISH`). On a cluster any node takes it and the cluster
    /// passes it on to every node's subscribers.
    ///
    /// - Returns: The number of subscribers that received it (on the node that took it).
    public func publish(channel: String, message: String) async throws -> Int {
        try self.receiverCount(from: await self.send(["PUBLISH", channel, message]))
    }

    /// Publishes a binary message on a channel (`PUBLISH`), as the `String` overload does.
    ///
    /// - Returns: The number of subscribers that received it (on the node that took it).
    public func publish(channel: String, message: ByteBuffer) async throws -> Int {
        try self.receiverCount(from: await self.send([ByteBuffer(string: "PUBLISH"), ByteBuffer(string: channel), message]))
    }

    /// An encoded command to the server, or on a cluster to the node of `slot` (any node for `nil`); `slot` is
    /// worked out only on a cluster.
    private func send(encoded: ByteBuffer, slot: @autoclosure () -> Int?) async throws -> RESPValue {
        switch self.nodes {
        case .primary(let pool):
            return try await pool.send(encoded)
        case .cluster(let router):
            return try await router.send(encoded, slot: slot())
        }
    }

    /// The slot a script call on `keys` is routed by: that of the first key.
    private static func slot(ofKeys keys: [String]) -> Int? {
        keys.first.map { RedisHashSlot.slot(of: $0) }
    }

    private func receiverCount(from reply: RESPValue) throws -> Int {
        guard case .integer(let count) = reply, let receivers = Int(exactly: count) else {
            throw RedisError.protocolError(endpoint: self.endpoint, reason: "PUBLISH answered \(reply) instead of an integer")
        }
        return receivers
    }

    private var endpoint: String {
        switch self.nodes {
        case .primary(let pool):
            return pool.endpoint
        case .cluster(let router):
            return router.endpoint
        }
    }
}
