import GatehouseEvents
import GatehouseRedis
import GatehouseTestSupport
import Logging
import Synchronization
import Testing

/// The subscription against a real Redis: the subscriber resynchronizes each time the subscription is
/// established (the first time, and after Redis came back), before any message of that subscription, and
/// each channel's messages reach their own receiver in order.
@Suite(.timeLimit(.minutes(1)))
struct EventSubscriptionTests {
    @Test func everySubscriptionIsResynchronizedBeforeItsMessagesAndEachChannelReachesItsReceiver() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        var logger = Logger(label: "test.subscription")
        logger.logLevel = .critical
        let configuration = RedisConfiguration(port: redis.port, reconnectInitialBackoff: .milliseconds(10), reconnectMaximumBackoff: .milliseconds(50))
        let publisher = RedisClient(configuration: configuration, logger: logger)
        let seen = Mutex<[String]>([])
        let subscription = EventSubscription(
            redis: configuration,
            channels: [
                EventSubscription.Channel("test:a") { text in seen.withLock { $0.append("a:\(text)") } },
                EventSubscription.Channel("test:b") { text in seen.withLock { $0.append("b:\(text)") } },
            ],
            logger: logger
        ) { afterLoss in
            seen.withLock { $0.append(afterLoss ? "resynchronize after a loss" : "resynchronize") }
            // A message published while the subscriber resynchronizes waits until it is done.
            // (After a restart the publisher's own connection may come back a little later: it retries.)
            for _ in 0..<200 {
                if (try? await publisher.publish(channel: "test:a", message: afterLoss ? "during-2" : "during-1")) != nil { break }
                try? await Task.sleep(for: .milliseconds(10))
            }
            try? await Task.sleep(for: .milliseconds(50))
            seen.withLock { $0.append("resynchronized") }
        }
        try await withThrowingTaskGroup { group in
            group.addTask { try await publisher.run() }
            group.addTask { try await subscription.run() }
            defer { group.cancelAll() }
            try await Self.waitUntil { seen.withLock { $0.contains("a:during-1") } }
            _ = try await publisher.publish(channel: "test:b", message: "1")
            _ = try await publisher.publish(channel: "test:a", message: "2")
            try await Self.waitUntil { seen.withLock { $0.contains("a:2") } }

            try await redis.restart()
            try await Self.waitUntil { seen.withLock { $0.contains("a:during-2") } }
            _ = try await publisher.publish(channel: "test:a", message: "3")
            try await Self.waitUntil { seen.withLock { $0.contains("a:3") } }
        }
        #expect(seen.withLock { $0 } == [
            "resynchronize", "resynchronized", "a:during-1", "b:1", "a:2",
            "resynchronize after a loss", "resynchronized", "a:during-2", "a:3",
        ])
    }

    private static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
