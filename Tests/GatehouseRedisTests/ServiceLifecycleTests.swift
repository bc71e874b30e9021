import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@Suite("RedisClient and RedisSubscriber as services", .timeLimit(.minutes(1)))
struct ServiceLifecycleTests {
    @Test func stopOnGracefulShutdown() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let configuration = RedisConfiguration(port: server.port)
        let logger = Logger(label: "gatehouse.redis.test.lifecycle")
        let client = RedisClient(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger)
        let subscriber = RedisSubscriber(configuration: configuration, channels: ["lifecycle"], logger: logger)
        let services = ServiceGroup(services: [client, subscriber], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await services.run() }
            var events = subscriber.events.makeAsyncIterator()
            #expect(await events.next() == .subscribed)
            let receivers = try await client.publish(channel: "lifecycle", message: "hello")
            #expect(receivers == 1)
            #expect(await events.next() == .message(channel: "lifecycle", payload: ByteBuffer(string: "hello")))

            await services.triggerGracefulShutdown()
            try await group.waitForAll()
            #expect(await events.next() == nil)
            await #expect {
                try await client.send(["PING"])
            } throws: { error in
                (error as? RedisError)?.code == .clientShutDown
            }
        }
    }
}
