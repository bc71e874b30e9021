import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import Testing

@Suite("RedisSubscriber against a real redis-server", .timeLimit(.minutes(1)))
struct RedisSubscriberTests {
    @Test func resubscribesAfterClientKillAndKeepsReceiving() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let configuration = RedisConfiguration(port: server.port)
        let subscriber = RedisSubscriber(
            configuration: configuration,
            channels: ["invalidations", "other"],
            logger: Logger(label: "gatehouse.redis.test.subscriber")
        )
        try await withRunningClient(configuration) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                var events = subscriber.events.makeAsyncIterator()

                #expect(await events.next() == .subscribed)
                #expect(try await client.publish(channel: "invalidations", message: "before") == 1)
                #expect(await events.next() == .message(channel: "invalidations", payload: ByteBuffer(string: "before")))

                let killed = try await client.send(["CLIENT", "KILL", "TYPE", "pubsub"])
                #expect(killed == .integer(1))
                #expect(await events.next() == .resubscribed)

                let binary = ByteBuffer(bytes: [0x00, 0xFF, 0x0D, 0x0A])
                #expect(try await client.publish(channel: "other", message: binary) == 1)
                #expect(await events.next() == .message(channel: "other", payload: binary))

                group.cancelAll()
                try await group.waitForAll()
                #expect(await events.next() == nil)
            }
        }
    }
}
