import GatehouseEvents
import GatehouseRedis
import Logging
import Synchronization

/// Subscribes to one Redis pub/sub channel and keeps every message it receives, in order, as an event
/// subscriber (an edge router) would see them.
public final class RedisChannelCollector: Sendable {
    private let redis: RedisConfiguration
    private let channel: String
    private let logger: Logger
    private let received = Mutex<(messages: [String], resubscriptions: Int)>(([], 0))

    /// - Parameters:
    ///   - redisPort: The Redis server's port. The subscriber reconnects within 10–20 ms of Redis coming
    ///     back, far sooner than a service whose backoff has grown during an outage.
    ///   - channel: The channel.
    public convenience init(redisPort: Int, channel: String) {
        self.init(
            redis: RedisConfiguration(port: redisPort, reconnectInitialBackoff: .milliseconds(10), reconnectMaximumBackoff: .milliseconds(20)),
            channel: channel
        )
    }

    /// A collector that signs in as the observer user of `server` (``RedisServerProcess/observerUserArguments``),
    /// and so resubscribes while ``RedisServerProcess/restartRefusingServices()`` keeps the services out.
    /// - Parameters:
    ///   - server: The Redis server, started with the observer user.
    ///   - channel: The channel.
    public convenience init(observing server: RedisServerProcess, channel: String) {
        self.init(
            redis: RedisConfiguration(
                port: server.port, username: RedisServerProcess.observerUser.name, password: RedisServerProcess.observerUser.password,
                reconnectInitialBackoff: .milliseconds(10), reconnectMaximumBackoff: .milliseconds(20)
            ),
            channel: channel
        )
    }

    /// - Parameters:
    ///   - redis: How to reach Redis, e.g. a ``RedisSentinelGroup``'s configuration.
    ///   - channel: The channel.
    public init(redis: RedisConfiguration, channel: String) {
        var logger = Logger(label: "test.channel")
        logger.logLevel = .critical
        self.redis = redis
        self.channel = channel
        self.logger = logger
    }

    /// The messages so far.
    public var messages: [String] { self.received.withLock { $0.messages } }

    /// How often the subscription was re-established after a drop.
    public var resubscriptions: Int { self.received.withLock { $0.resubscriptions } }

    /// Runs `body` while subscribed (after the subscription is confirmed); call it once per collector.
    public func whileSubscribed<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let subscribed = AsyncStream.makeStream(of: Void.self)
        let channel = EventSubscription.Channel(self.channel) { text in self.received.withLock { $0.messages.append(text) } }
        let subscription = EventSubscription(redis: self.redis, channels: [channel], logger: self.logger) { afterLoss in
            if afterLoss {
                self.received.withLock { $0.resubscriptions += 1 }
            } else {
                subscribed.continuation.finish()
            }
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await subscription.run() }
            for await _ in subscribed.stream {}
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Waits until `condition` holds for the messages so far, or `timeout` passed.
    public func waitUntil(timeout: Duration = .seconds(20), _ condition: ([String]) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(self.messages), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
