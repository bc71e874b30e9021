import GatehouseEvents
import GatehouseRedis
import GatehouseTestSupport
import Logging
import ServiceLifecycle
import Testing

/// The drainer against a real Redis: events go out in version order, a few per message, and are marked
/// published only once Redis took them; a Redis restart loses and reorders nothing; a graceful shutdown
/// publishes what committed meanwhile.
@Suite(.timeLimit(.minutes(1)))
struct OutboxDrainerTests {
    private static let channel = "test:events"

    @Test func eventsGoOutInVersionOrderAFewPerMessageAndAreMarkedOnceRedisTookThem() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let outbox = MemoryOutbox(eventsPerMessage: 3)
        let collector = RedisChannelCollector(redisPort: redis.port, channel: Self.channel)
        try await collector.whileSubscribed {
            try await Self.withDrainer(outbox, redisPort: redis.port, batchSize: 4) { drainer in
                outbox.append(1...10)
                drainer.eventsCommitted()
                try await collector.waitUntil { Self.versions(in: $0).count >= 10 }
                try await Self.waitUntil { outbox.markedThrough == 10 }
            }
        }
        #expect(Self.versions(in: collector.messages) == Array(1...10))
        // Rounds of 4 events (the batch size), each cut into messages of at most 3.
        #expect(Self.messages(in: collector.messages).map { $0.events.count } == [3, 1, 3, 1, 2])
        #expect(outbox.markedThrough == 10)
    }

    @Test func eventsCommittedWhileRedisIsDownWaitUnmarkedAndFollowInOrderAfterItsRestart() async throws {
        // The collector resubscribes before the drainer gets in again (restartRefusingServices): the test checks
        // what the drainer published, not how fast a subscriber comes back.
        let redis = try await RedisServerProcess.start { _ in RedisServerProcess.observerUserArguments }
        defer { redis.stop() }
        let outbox = MemoryOutbox(eventsPerMessage: 2)
        let collector = RedisChannelCollector(observing: redis, channel: Self.channel)
        try await collector.whileSubscribed {
            try await Self.withDrainer(outbox, redisPort: redis.port, batchSize: 8) { drainer in
                outbox.append(1...5)
                drainer.eventsCommitted()
                try await collector.waitUntil { Self.versions(in: $0).count >= 5 }
                try await Self.waitUntil { outbox.markedThrough == 5 }

                redis.halt()
                for version in Int64(6)...20 {
                    outbox.append(version...version)
                    drainer.eventsCommitted()
                }
                // Long enough for several failed attempts.
                try await Task.sleep(for: .seconds(1))
                #expect(outbox.markedThrough == 5, "nothing Redis did not take is marked")
                try await redis.restartRefusingServices()
                try await Self.waitUntil { collector.resubscriptions >= 1 }
                #expect(outbox.markedThrough == 5, "nothing Redis refused is marked")
                try await redis.admitServices()
                try await collector.waitUntil { Self.versions(in: $0).last == 20 }
                try await Self.waitUntil { outbox.markedThrough == 20 }
            }
        }
        #expect(collector.resubscriptions >= 1)
        #expect(Self.versions(in: collector.messages) == Array(1...20), "none lost, none reordered")
        #expect(outbox.markedThrough == 20)
    }

    @Test func aGracefulShutdownPublishesAndMarksWhatCommittedWithoutASignal() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let outbox = MemoryOutbox(eventsPerMessage: 10)
        let collector = RedisChannelCollector(redisPort: redis.port, channel: Self.channel)
        var logger = Logger(label: "test.drainer")
        logger.logLevel = .critical
        let client = RedisClient(configuration: Self.redisConfiguration(port: redis.port), logger: logger)
        // An hour between polls: only the first round, a signal or the shutdown publishes.
        let drainer = OutboxDrainer(source: outbox, redis: client, channel: Self.channel, batchSize: 2, pollInterval: .seconds(3600), logger: logger)
        try await collector.whileSubscribed {
            let group = ServiceGroup(services: [client, drainer], logger: logger)
            try await withThrowingTaskGroup { tasks in
                tasks.addTask { try await group.run() }
                outbox.append(1...1)
                drainer.eventsCommitted()
                try await collector.waitUntil { Self.versions(in: $0) == [1] }
                // Committed without a signal (another process, say), then the service is stopped.
                outbox.append(2...7)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            try await collector.waitUntil { Self.versions(in: $0).count >= 7 }
        }
        #expect(Self.versions(in: collector.messages) == Array(1...7))
        #expect(outbox.markedThrough == 7, "marked before the drainer returned")
    }

    /// A client that waits 10 s for a command: with the 1 s default, a `PUBLISH` Redis answered late on a
    /// loaded machine failed, was published again (at least once, as documented), and showed as a duplicate.
    private static func redisConfiguration(port: Int) -> RedisConfiguration {
        RedisConfiguration(port: port, connectTimeout: .seconds(5), commandTimeout: .seconds(10))
    }

    private static func messages(in texts: [String]) -> [NumberedMessage] {
        texts.compactMap { try? NumberedMessage(jsonText: $0) }
    }

    private static func versions(in texts: [String]) -> [Int64] {
        Self.messages(in: texts).flatMap { $0.events.map(\.version) }
    }

    /// Runs `body` while a drainer of `outbox` (polling every 50 ms) and its Redis client run.
    private static func withDrainer(
        _ outbox: MemoryOutbox, redisPort: Int, batchSize: Int, _ body: (OutboxDrainer<MemoryOutbox>) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test.drainer")
        logger.logLevel = .critical
        let redis = RedisClient(configuration: Self.redisConfiguration(port: redisPort), logger: logger)
        let drainer = OutboxDrainer(source: outbox, redis: redis, channel: Self.channel, batchSize: batchSize, pollInterval: .milliseconds(50), logger: logger)
        try await withThrowingTaskGroup { group in
            group.addTask { try await redis.run() }
            group.addTask { await drainer.run() }
            defer { group.cancelAll() }
            try await body(drainer)
        }
    }

    private static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
