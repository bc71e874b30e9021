import GatehouseRedis
import GatehouseTestSupport
import Logging
import NIOCore
import Testing

@Suite("RedisClient and RedisSubscriber against a real 3-primary, 3-replica Redis Cluster", .timeLimit(.minutes(3)))
struct RedisClusterClientTests {
    /// A client of `cluster` with timeouts for a loaded test machine (six redis-servers beside the other tests):
    /// these tests check routing, not how fast a node answers.
    private static func configuration(_ cluster: RedisClusterProcess) -> RedisConfiguration {
        RedisConfiguration(
            topology: .cluster(seeds: cluster.seeds.compactMap { RedisServerAddress(parsing: $0) }), connectTimeout: .seconds(5),
            commandTimeout: .seconds(10)
        )
    }

    /// Subscribes to `invalidations` on `seeds`, runs `body` with its events, then stops it.
    private static func withSubscriber(
        seeds: [String],
        _ body: (inout AsyncStream<RedisSubscriberEvent>.Iterator) async throws -> Void
    ) async throws {
        let subscriber = RedisSubscriber(
            configuration: RedisConfiguration(topology: .cluster(seeds: seeds.compactMap { RedisServerAddress(parsing: $0) })),
            channels: ["invalidations"],
            logger: Logger(label: "gatehouse.redis.test.subscriber")
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await subscriber.run() }
            defer { group.cancelAll() }
            var events = subscriber.events.makeAsyncIterator()
            try await body(&events)
        }
    }

    @Test func routesEveryKeyToTheNodeOwningItsSlotAndRunsScriptsOnEachNode() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        try await withRunningClient(Self.configuration(cluster)) { client in
            let keys = (0..<300).map { "key:\($0)" }
            for key in keys {
                #expect(try await client.send(["SET", key, "value of \(key)"]) == .simpleString("OK"))
            }
            for key in keys {
                #expect(try await client.send(["GET", key]).string == "value of \(key)")
            }
            // Each key is stored on the primary that owns its slot, and nowhere else.
            var stored = 0
            for key in keys.prefix(30) {
                let owner = try await cluster.primary(ofSlot: RedisHashSlot.slot(of: key))
                #expect(try await cluster.cli(owner, ["GET", key]).contains("value of \(key)"))
                stored += 1
            }
            #expect(stored == 30)

            // A script every node must load (NOSCRIPT on each, handled per node), keys of one slot per call.
            let script = RedisScript(source: "return redis.call('INCRBY', KEYS[1], ARGV[1]) + redis.call('INCRBY', KEYS[2], ARGV[1])")
            for node in cluster.nodes.prefix(3) {
                _ = try await cluster.cli(node, ["SCRIPT", "FLUSH"])
            }
            for tag in ["alice", "bob", "carol", "dave", "erin", "frank"] {
                let reply = try await client.evalScript(script, keys: ["{\(tag)}:a", "{\(tag)}:b"], arguments: ["2"])
                #expect(reply == .integer(4))
            }
            // Keyless commands go to any node.
            #expect(try await client.send(["PING"]) == .simpleString("PONG"))
            #expect(try await client.send(["TIME"]).array?.count == 2)
            #expect(try await client.publish(channel: "nobody-listens", message: "hello") == 0)
        }
    }

    @Test func followsMovedAndAskDuringASlotMigration() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        try await withRunningClient(Self.configuration(cluster)) { client in
            let key = "{migrating}:counter"
            let slot = RedisHashSlot.slot(of: key)
            #expect(try await client.send(["SET", key, "1"]) == .simpleString("OK"))
            let source = try await cluster.primary(ofSlot: slot)
            let target = try #require(cluster.nodes.prefix(3).first { $0 !== source })
            let sourceID = try await cluster.nodeID(of: source)
            let targetID = try await cluster.nodeID(of: target)

            // Migration under way: the key moved already, so the source answers ASK for it.
            _ = try await cluster.cli(target, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID])
            _ = try await cluster.cli(source, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID])
            _ = try await cluster.cli(source, ["MIGRATE", target.host, String(target.port), key, "0", "5000"])
            #expect(try await client.send(["INCR", key]) == .integer(2))
            // A new key of the migrating slot is created at the target (ASK), not at the source.
            #expect(try await client.send(["SET", "{migrating}:new", "x"]) == .simpleString("OK"))
            #expect(try await cluster.cli(target, ["EXISTS", "{migrating}:new"]).contains("1"))

            // Migration done: every node learns the new owner; the client's map is stale and MOVED updates it.
            for node in cluster.nodes {
                _ = try await cluster.cli(node, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID])
            }
            #expect(try await client.send(["INCR", key]) == .integer(3))
            #expect(try await client.send(["GET", "{migrating}:new"]).string == "x")
            #expect(try await cluster.cli(target, ["GET", key]).contains("3"))
        }
    }

    @Test func subscriberOnOneNodeReceivesWhatIsPublishedOnAnother() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        try await Self.withSubscriber(seeds: [cluster.seeds[4]]) { events in
            #expect(await events.next() == .subscribed)
            // Published on the first node (a primary); the subscriber listens on a replica.
            _ = try await cluster.cli(cluster.nodes[0], ["PUBLISH", "invalidations", "from-node-0"])
            #expect(await events.next() == .message(channel: "invalidations", payload: ByteBuffer(string: "from-node-0")))
            try await withRunningClient(Self.configuration(cluster)) { client in
                _ = try await client.publish(channel: "invalidations", message: "from-client")
                #expect(await events.next() == .message(channel: "invalidations", payload: ByteBuffer(string: "from-client")))
            }
        }
    }

    @Test func subscriberMovesToAnotherSeedWhenItsNodeGoesDown() async throws {
        let cluster = try await RedisClusterProcess.start()
        defer { cluster.stop() }
        try await Self.withSubscriber(seeds: [cluster.seeds[4], cluster.seeds[5]]) { events in
            #expect(await events.next() == .subscribed)
            cluster.nodes[4].halt()
            #expect(await events.next() == .resubscribed)
            _ = try await cluster.cli(cluster.nodes[0], ["PUBLISH", "invalidations", "after"])
            #expect(await events.next() == .message(channel: "invalidations", payload: ByteBuffer(string: "after")))
        }
    }
}
