import DataServiceCore
import Foundation
import GatehouseDataAPI
import GatehouseEvents
import GatehouseRedis
import GatehouseTestSupport
import Logging
import Testing

/// The data service's outbox, drained by the shared drainer, against a real Redis: committed events go out in version order without a gap, whether they
/// come from the writer's in-memory hand-over or have to be read back from the outbox, and the outbox is
/// emptied once Redis has them.
@Suite(.timeLimit(.minutes(1)))
struct DocumentOutboxTests {
    private static let channel = "test:invalidations"

    @Test func writesOfAnotherProcessBetweenThisStoresWritesArePublishedInOrderAndTheOutboxEmpties() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let collector = RedisChannelCollector(redisPort: redis.port, channel: Self.channel)
        try await withPublishingStore(redisPort: redis.port, bufferCapacity: 1024) { store, path in
            try await collector.whileSubscribed {
                // A second store on the same file stands for another process (`data-service seed`): its
                // versions fall between this store's, and its events reach the publisher only through the outbox.
                let other = try await DocumentStore(DocumentStoreConfiguration(path: path))
                let before = Int64(Date().timeIntervalSince1970 * 1000)
                for round in 1...10 {
                    _ = try await store.write(.put(collection: "posts", id: "mine-\(round)", body: "{}"))
                    _ = try await other.write(.put(collection: "posts", id: "theirs-\(round)", body: "{}"))
                }
                await other.close()
                try await collector.waitUntil { Self.events(in: $0).count >= 20 }
                let events = Self.events(in: collector.messages)
                #expect(events.map(\.version) == Array(1...20))
                #expect(events.map(\.id) == (1...10).flatMap { ["mine-\($0)", "theirs-\($0)"] })
                // Commit times are the writes' own, not the publish's.
                #expect(events.allSatisfy { $0.committedAtMs >= before && $0.committedAtMs <= Int64(Date().timeIntervalSince1970 * 1000) })
            }
            try await Self.waitUntilOutboxIsEmpty(store)
        }
    }

    @Test func eventsThatOverflowTheBufferWhileRedisStallsFollowInOrderFromTheOutbox() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let collector = RedisChannelCollector(redisPort: redis.port, channel: Self.channel)
        try await withPublishingStore(redisPort: redis.port, bufferCapacity: 4) { store, _ in
            try await collector.whileSubscribed {
                _ = try await store.write(.put(collection: "posts", id: "before", body: "{}"))
                try await collector.waitUntil { Self.events(in: $0).count == 1 }
                // Redis holds every PUBLISH for 1.5 s (the subscription stays up): 30 writes meanwhile, against
                // a buffer of 4, so most of them are no longer in memory when the publisher can go on.
                var quiet = Logger(label: "test.admin")
                quiet.logLevel = .critical
                let admin = RedisClient(configuration: RedisConfiguration(port: redis.port), logger: quiet)
                _ = try await admin.send(["CLIENT", "PAUSE", "1500", "WRITE"])
                for number in 1...30 {
                    _ = try await store.write(.put(collection: "posts", id: "during-\(number)", body: "{}"))
                }
                _ = try await store.write(.put(collection: "posts", id: "after", body: "{}"))
                try await collector.waitUntil { Self.events(in: $0).last?.id == "after" }
            }
            let events = Self.events(in: collector.messages)
            #expect(events.map(\.version) == Array(1...32))
            #expect(events.map(\.id) == ["before"] + (1...30).map { "during-\($0)" } + ["after"])
            try await Self.waitUntilOutboxIsEmpty(store)
        }
    }

    private static func events(in messages: [String]) -> [InvalidationMessage.Event] {
        messages.flatMap { (try? InvalidationMessage(jsonText: $0))?.events ?? [] }
    }

    /// The rows go once Redis has accepted their message, after the publish.
    private static func waitUntilOutboxIsEmpty(_ store: DocumentStore) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await store.outboxDepth() > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await store.outboxDepth() == 0)
    }
}

/// Runs `body` with a store whose writer hands its events to a running publisher (as `data-service` wires
/// them), polling the outbox every 50 ms and publishing up to 8 events a message; stops the publisher and its
/// Redis client afterwards.
private func withPublishingStore(
    redisPort: Int, bufferCapacity: Int, _ body: (DocumentStore, String) async throws -> Void
) async throws {
    let committed = CommittedEventBuffer(capacity: bufferCapacity)
    try await withTemporaryStore({ $0.onCommit = committed.append }) { store, configuration in
        var logger = Logger(label: "test.publisher")
        logger.logLevel = .critical
        let redis = RedisClient(
            // Longer than the stall of the second test, so a held PUBLISH waits instead of failing.
            configuration: RedisConfiguration(port: redisPort, commandTimeout: .seconds(5)),
            logger: logger
        )
        let publisher = OutboxDrainer(
            store: store, committed: committed, redis: redis, channel: "test:invalidations", batchSize: 8,
            pollInterval: .milliseconds(50), logger: logger
        )
        try await withThrowingTaskGroup { group in
            group.addTask { try await redis.run() }
            group.addTask { await publisher.run() }
            defer { group.cancelAll() }
            try await body(store, configuration.path)
        }
    }
}
