import GatehouseRedis
import Logging
import NIOCore
import Synchronization

/// Subscribes to one Redis pub/sub channel and keeps every message it receives, in order, as an event
/// subscriber (an edge router) would see them.
public final class RedisChannelCollector: Sendable {
    private let subscriber: RedisSubscriber
    private let received = Mutex<(messages: [String], resubscriptions: Int)>(([], 0))

    /// - Parameters:
    ///   - redisPort: The Redis server's port. The subscriber reconnects within 10–20 ms of Redis coming
    ///     back, far sooner than a service whose backoff has grown during an outage.
    ///   - channel: The channel.
    public init(redisPort: Int, channel: String) {
        var logger = Logger(label: "test.channel")
        logger.logLevel = .critical
        self.subscriber = RedisSubscriber(
            configuration: RedisConfiguration(port: redisPort, reconnectInitialBackoff: .milliseconds(10), reconnectMaximumBackoff: .milliseconds(20)),
            channels: [channel],
            logger: logger
        )
    }

    /// The messages so far.
    public var messages: [String] { self.received.withLock { $0.messages } }

    /// How often the subscription was re-established after a drop.
    public var resubscriptions: Int { self.received.withLock { $0.resubscriptions } }

    /// Runs `body` while subscribed (after the subscription is confirmed).
    public func whileSubscribed<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.subscriber.run() }
            let subscribed = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                for await event in self.subscriber.events {
                    switch event {
                    case .subscribed: subscribed.continuation.finish()
                    case .message(_, let payload): self.received.withLock { $0.messages.append(String(buffer: payload)) }
                    case .resubscribed: self.received.withLock { $0.resubscriptions += 1 }
                    }
                }
            }
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
