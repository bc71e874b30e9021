import GatehouseDataAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// Invalidation events: in the same transaction as the data, delivered after commit, in order, across
/// Redis outages and crashes.
///
/// The service runs in process (``withDataService(folder:redisPort:environment:_:)``) where only its answers
/// and events are checked, and as a child process (``DataServiceProcess``) where the process is the point:
/// its own metrics and log during an outage (metrics are process-wide), and `SIGKILL` then a restart.
@Suite(.timeLimit(.minutes(2)))
struct DataServiceEventTests {
    @Test func everyCommittedWriteIsPublishedInVersionOrder() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        try await withDataService(folder: folder, redisPort: redis.port) { service in
            let collector = InvalidationCollector(redisPort: redis.port)
            try await collector.whileSubscribed {
                try await service.withClient { client in
                    let first = try await client.put("posts", "p1", #"{"title":"one"}"#)
                    #expect(first.created && first.version == 1)
                    let second = try await client.put("posts", "p1", #"{"title":"two"}"#, ifVersion: 1)
                    #expect(!second.created && second.version == 2)
                    var delete = Gatehouse_Data_DeleteRequest()
                    delete.collection = "posts"
                    delete.id = "p1"
                    _ = try await client.call(DataMethods.delete, delete)
                }
                try await collector.waitForEvents(3)
            }
            let events = collector.events
            #expect(events.map(\.version) == [1, 2, 3])
            #expect(events.map(\.kind) == [.put, .put, .delete])
            #expect(events.allSatisfy { $0.collection == "posts" && $0.id == "p1" })
        }
    }

    @Test func writesSucceedWhileRedisIsDownAndAll500EventsFollowInOrderOnceItIsBack() async throws {
        let redis = try await RedisServerProcess.start { _ in RedisServerProcess.observerUserArguments }
        defer { redis.stop() }
        let folder = try TestFolder()
        let service = try await DataServiceProcess(folder: folder, redisPort: redis.port)
        // Subscribed all along, as an edge router is; it reconnects by itself when Redis returns, and before the
        // service gets in again (restartRefusingServices), so it is there for every event the service publishes.
        let collector = InvalidationCollector(observing: redis)
        try await collector.whileSubscribed {
            try await service.endpoint.withClient { client in
                redis.halt()
                let versions: [Int64]
                do {
                    versions = try await withThrowingTaskGroup(of: Int64.self) { group in
                        for index in 0..<500 {
                            group.addTask { try await client.put("notes", "n\(index)", #"{"n":\#(index)}"#).version }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                } catch {
                    Issue.record("\(error)\n\(service.process.logTail)")
                    throw error
                }
                #expect(Set(versions) == Set(1...500), "every write succeeded, each with its own version")
                // Down for a while, as in a real outage: nothing can be published meanwhile.
                try await Task.sleep(for: .seconds(1))
                #expect(prometheusSample(try service.metrics(), "gatehouse_data_outbox_depth") ?? 0 > 0)
                #expect(prometheusSample(try service.metrics(), "gatehouse_data_events_published_total") ?? 0 == 0)
                try await redis.restartRefusingServices()
                try await collector.waitForResubscription()
                try await redis.admitServices()
                try await collector.waitForEvents(500)
            }
        }
        #expect(collector.resubscriptions == 1)
        #expect(collector.events.map(\.version) == Array(1...500), "all 500 events, in version order, no gap, no duplicate")
    }

    @Test func aWriteAcknowledgedBeforeSIGKILLIsThereAfterRestartAndItsEventIsPublished() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let rpcPort = try freeLoopbackPort()
        let service = try await DataServiceProcess(folder: folder, redisPort: redis.port, rpcPort: rpcPort)
        // Redis down: the event stays in the outbox when the process dies.
        redis.halt()
        let written = try await service.endpoint.withClient { try await $0.put("orders", "o1", #"{"total":42}"#) }
        service.process.kill()

        try await redis.restart()
        let collector = InvalidationCollector(redisPort: redis.port)
        try await collector.whileSubscribed {
            let restarted = try await DataServiceProcess(folder: folder, redisPort: redis.port, rpcPort: rpcPort, name: "restarted")
            let document = try await restarted.endpoint.withClient { try await $0.get("orders", "o1") }
            #expect(document.body == #"{"total":42}"#)
            #expect(document.version == written.version)
            try await collector.waitForEvents(1)
        }
        #expect(collector.events.map(\.version) == [written.version])
        #expect(collector.events.first?.id == "o1")
    }
}
