import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import Synchronization
import Testing

@Suite("RedisClient and RedisSubscriber in sentinel mode, against a real primary, replica and three sentinels", .timeLimit(.minutes(2)))
struct RedisSentinelTests {
    /// The port of the node a client's command ran on.
    private func servingPort(_ client: RedisClient) async throws -> Int? {
        try await client.send(["CONFIG", "GET", "port"]).array?.last?.int
    }

    @Test func findsThePrimaryThroughTheSentinelsSkippingOneThatDoesNotAnswer() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        var configuration = group.configuration
        // A sentinel that is down comes first: the client asks the next one.
        configuration.topology = .sentinel(
            masterName: RedisSentinelGroup.masterName,
            sentinels: [RedisServerAddress(host: "127.0.0.1", port: try freeLoopbackPort())] + group.sentinels
        )
        try await withRunningClient(configuration) { client in
            let port = try await self.servingPort(client)
            #expect(port == group.serverPorts[0])
            #expect(try await client.send(["ROLE"]).array?.first?.string == "master")
            #expect(try await client.send(["SET", "sentinel:written", "yes"]) == .simpleString("OK"))
        }
    }

    @Test func aMasterNameNoSentinelKnowsFailsNamingIt() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        var configuration = group.configuration
        configuration.topology = .sentinel(masterName: "elsewhere", sentinels: group.sentinels)
        let client = RedisClient(configuration: configuration, logger: Logger(label: "gatehouse.redis.test"))
        let error = await #expect(throws: RedisError.self) {
            try await client.send(["PING"])
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.description.contains("\(group.sentinels[0]): it monitors no primary named 'elsewhere'") == true, "\(String(describing: error))")
        #expect(error?.description.contains("check redis.sentinel.addresses and redis.sentinel.master_name") == true)
    }

    /// SIGKILL the primary while commands run without pause: the client and the subscriber follow the
    /// promoted replica by themselves, and a message published after the failover arrives.
    @Test func followsThePromotedReplicaAfterThePrimaryIsKilled() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        let configuration = group.configuration
        let subscriber = RedisSubscriber(configuration: configuration, channels: ["failover"], logger: Logger(label: "gatehouse.redis.test.subscriber"))
        try await withRunningClient(configuration) { client in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await subscriber.run() }
                defer { tasks.cancelAll() }
                var events = subscriber.events.makeAsyncIterator()
                #expect(await events.next() == .subscribed)
                #expect(try await client.publish(channel: "failover", message: "before") == 1)
                #expect(await events.next() == .message(channel: "failover", payload: ByteBuffer(string: "before")))

                let load = CommandLoad()
                tasks.addTask { await load.run(client) }
                try await load.waitForSuccesses(10)

                let formerPrimary = try await group.killPrimary()
                let killed = ContinuousClock.now
                let newPrimary = try await group.waitForFailover(from: formerPrimary)
                let promoted = ContinuousClock.now
                #expect(newPrimary == group.serverPorts[1])

                // The client is back on the new primary within a generous bound.
                let recovered = try await load.waitForSuccess(after: promoted, within: .seconds(10))
                #expect(try await self.servingPort(client) == newPrimary)
                // The subscriber has subscribed on the new primary by itself, and receives what is published there.
                #expect(await events.next() == .resubscribed)
                let resubscribed = ContinuousClock.now
                #expect(try await client.publish(channel: "failover", message: "after") == 1)
                #expect(await events.next() == .message(channel: "failover", payload: ByteBuffer(string: "after")))

                let failed = load.failures
                let lastFailure = try #require(load.lastFailure, "the kill was seen by the load")
                print(
                    "sentinel failover (RedisClient): \(failed) commands failed, the last \(lastFailure - killed) after the kill; "
                        + "all three sentinels named the new primary \(promoted - killed) after the kill; a command succeeded "
                        + "\(recovered - promoted) after that; the subscriber had resubscribed \(resubscribed - promoted) after that"
                )
                #expect(lastFailure < recovered, "commands stayed on the new primary once back")
            }
        }
    }
}

extension RedisSentinelTests {
    /// A failover the operator asks for: the former primary stays up as a replica, so nothing breaks the
    /// client's connections to it but the sentinels' announcement (and `READONLY` for a write that gets there).
    @Test func movesToTheNewPrimaryWhenTheSentinelsFailOverAHealthyPrimary() async throws {
        let group = try await RedisSentinelGroup.start()
        defer { group.stop() }
        try await withRunningClient(group.configuration) { client in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                let load = CommandLoad()
                tasks.addTask { await load.run(client) }
                defer { tasks.cancelAll() }
                try await load.waitForSuccesses(10)

                let formerPrimary = try await group.failOver()
                let newPrimary = try await group.waitForFailover(from: formerPrimary)
                let promoted = ContinuousClock.now
                _ = try await load.waitForSuccess(after: promoted, within: .seconds(10))
                let port = try await self.servingPort(client)
                #expect(port == newPrimary)
                // Every connection of the pool writes to the new primary, none to the demoted one.
                for _ in 0..<10 {
                    #expect(try await client.send(["SET", "sentinel:after-failover", "written"]) == .simpleString("OK"))
                }
                print("sentinel manual failover (RedisClient): \(load.failures) commands failed")
            }
        }
    }
}

/// `INCR` without pause from one task, counting successes and failures.
private final class CommandLoad: Sendable {
    private let counts = Mutex<(successes: Int, failures: Int, lastSuccess: ContinuousClock.Instant?, lastFailure: ContinuousClock.Instant?)>(
        (0, 0, nil, nil)
    )

    var failures: Int { self.counts.withLock { $0.failures } }
    var lastFailure: ContinuousClock.Instant? { self.counts.withLock { $0.lastFailure } }

    func run(_ client: RedisClient) async {
        while !Task.isCancelled {
            do {
                _ = try await client.send(["INCR", "sentinel:load"])
                self.counts.withLock {
                    $0.successes += 1
                    $0.lastSuccess = .now
                }
            } catch {
                self.counts.withLock {
                    $0.failures += 1
                    $0.lastFailure = .now
                }
                // A failed command returns at once while the client backs off: do not spin.
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    func waitForSuccesses(_ count: Int) async throws {
        try await eventually(within: .seconds(10)) {
            guard self.counts.withLock({ $0.successes }) >= count else { throw CancellationError() }
        }
    }

    /// Waits for a command that succeeded after `instant`; returns when it did.
    func waitForSuccess(after instant: ContinuousClock.Instant, within timeout: Duration) async throws -> ContinuousClock.Instant {
        try await eventually(within: timeout) {
            guard let last = self.counts.withLock({ $0.lastSuccess }), last > instant else { throw CancellationError() }
            return last
        }
    }
}
