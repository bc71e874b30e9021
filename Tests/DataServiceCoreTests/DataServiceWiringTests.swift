import DataServiceCore
import GatehouseDataAPI
import GatehouseObservability
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// The data service wired by `DataService.make` as the executable wires it, run in process on port 0.
@Suite struct DataServiceWiringTests {
    @Test func storesAndPublishesAWriteAndShutsDownGracefully() async throws {
        let redis = try await RedisServerProcess.start()
        defer { redis.stop() }
        let folder = try TestFolder()
        let secret = "data-wiring-secret-0123456789"
        let yaml = """
            rpc: {port: 0, secret: \(secret)}
            admin: {port: 0}
            redis: {port: \(redis.port)}
            storage: {path: \(folder.path("db/documents.sqlite"))}
            events: {poll_interval_ms: 50}
            """
        let invalidations = RedisChannelCollector(redisPort: redis.port, channel: InvalidationMessage.defaultChannel)
        try await invalidations.whileSubscribed {
            try await withInProcessService(DataService.self, yaml: yaml) { data in
                let ready = try await httpGetOffPool(port: try await data.adminPort(), path: "/readyz")
                #expect(ready.status == 200, "\(ready.body)")
                try await withRPCClients(ports: [try await data.rpcPort()], secret: secret) { clients in
                    var put = Gatehouse_Data_PutRequest()
                    (put.collection, put.id, put.body, put.owner) = ("articles", "a1", #"{"title":"wired"}"#, "test")
                    let written = try await clients[0].call(DataMethods.put, put, timeout: .seconds(10))
                    #expect(written.created)
                    var get = Gatehouse_Data_GetRequest()
                    (get.collection, get.id) = ("articles", "a1")
                    let read = try await clients[0].call(DataMethods.get, get, timeout: .seconds(10))
                    #expect(read.document.body.contains("wired"))
                }
                // The publisher drained the write's event from the outbox to Redis.
                try await invalidations.waitUntil { messages in messages.contains { $0.contains("a1") } }
            }
        }
    }
}
