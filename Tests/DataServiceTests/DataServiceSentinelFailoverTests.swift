import GatehouseDataAPI
import GatehouseTestSupport
import Testing

/// The `data-service` executable in sentinel mode while its Redis primary is killed: writes go on (SQLite),
/// their invalidation events wait in the outbox and are published on the promoted replica. The service stays
/// a child process: it is configured for the sentinels by its environment alone (`DATA_REDIS_SENTINEL_*`), as
/// deployed, and the Redis failover, not the service's start, is what this suite waits for.
@Suite(.timeLimit(.minutes(2)))
struct DataServiceSentinelFailoverTests {
    @Test func eventsOfWritesDuringAndAfterTheFailoverArriveFromTheNewPrimary() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        let folder = try TestFolder()
        let service = try await DataServiceProcess(
            folder: folder,
            redisPort: 0,
            environment: group.environment(prefix: "DATA")
        )
        // Subscribed all along through the sentinels, as an edge router is.
        let collector = InvalidationCollector(redis: group.configuration)
        try await collector.whileSubscribed {
            try await service.endpoint.withClient { client in
                _ = try await client.put("notes", "before", #"{"n":0}"#)
                try await collector.waitForEvents(1)

                let formerPrimary = try await group.killPrimary()
                // Written while there is no primary: committed at once, published later.
                for index in 1...20 {
                    _ = try await client.put("notes", "during-\(index)", #"{"n":\#(index)}"#)
                }
                _ = try await group.waitForFailover(from: formerPrimary)
                try await collector.waitForResubscription()
                let after = try await client.put("notes", "after", #"{"n":21}"#)
                #expect(after.version == 22)
                try await collector.waitUntilEvent(version: 22)
            }
        }
        let versions = collector.events.map(\.version)
        #expect(collector.resubscriptions == 1)
        #expect(versions.last == 22, "the event of the write after the failover arrived: \(versions)")
        // The outbox publishes the waiting events as soon as it reaches the new primary, which may be a few
        // milliseconds before this subscriber has subscribed there: an edge detects such a gap by the
        // versions and fetches the state. Whatever arrived came once and in order.
        #expect(versions == versions.sorted() && Set(versions).count == versions.count, "\(versions)")
        print("sentinel failover (data service): \(versions.count) of 22 events received by a subscriber that resubscribed on the new primary")
    }
}
