import GatehouseConfig
import NIOCore
import Testing

@testable import GatehouseRedis

@Suite("Redis Cluster routing without sockets: hash slots, slot maps, redirects, configuration")
struct RedisClusterRoutingTests {
    @Test func slotsMatchRedisExamples() {
        // CRC16/XMODEM check value: "123456789" → 0x31C3.
        #expect(RedisHashSlot.slot(of: "123456789") == 0x31C3)
        // Values `CLUSTER KEYSLOT` answers on a real server.
        #expect(RedisHashSlot.slot(of: "foo") == 12182)
        #expect(RedisHashSlot.slot(of: "bar") == 5061)
        #expect(RedisHashSlot.slot(of: "") == 0)
    }

    @Test func hashTagsFollowRedisRule() {
        let user = RedisHashSlot.slot(of: "user1000")
        #expect(RedisHashSlot.slot(of: "{user1000}.following") == user)
        #expect(RedisHashSlot.slot(of: "{user1000}.followers") == user)
        #expect(RedisHashSlot.slot(of: "gh:user:{alice}") == RedisHashSlot.slot(of: "gh:admin:{alice}"))
        // An empty tag hashes the whole key; only the first `{…}` counts; the tag ends at the first `}`.
        #expect(RedisHashSlot.slot(of: "foo{}{bar}") != RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "foo{}{bar}") == RedisHashSlot.slot(of: Array("foo{}{bar}".utf8)))
        #expect(RedisHashSlot.slot(of: "foo{{bar}}zap") == RedisHashSlot.slot(of: "{bar"))
        #expect(RedisHashSlot.slot(of: "foo{bar}{zap}") == RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "no{close") == RedisHashSlot.slot(of: Array("no{close".utf8)))
    }

    @Test func commandsAreRoutedByTheirFirstKey() {
        func slot(_ command: [String]) -> Int? {
            RedisHashSlot.slot(ofCommand: command.map(\.utf8))
        }
        #expect(slot(["GET", "foo"]) == 12182)
        #expect(slot(["del", "{foo}:a", "{foo}:b"]) == 12182)
        #expect(slot(["EVALSHA", "abc", "2", "foo", "{foo}x", "argument"]) == 12182)
        #expect(slot(["EVALSHA", "abc", "0", "argument"]) == nil)
        #expect(slot(["PUBLISH", "foo", "message"]) == nil)
        #expect(slot(["TIME"]) == nil)
        #expect(slot(["PING"]) == nil)
        #expect(slot(["SCRIPT", "LOAD", "return 1"]) == nil)
    }

    @Test func readsClusterShardsReply() throws {
        func node(_ ip: String, _ endpoint: String, _ port: Int64, _ role: String, _ health: String) -> RESPValue {
            .array([
                .bulkString(ByteBuffer(string: "id")), .bulkString(ByteBuffer(string: "abc")),
                .bulkString(ByteBuffer(string: "port")), .integer(port),
                .bulkString(ByteBuffer(string: "ip")), .bulkString(ByteBuffer(string: ip)),
                .bulkString(ByteBuffer(string: "endpoint")), .bulkString(ByteBuffer(string: endpoint)),
                .bulkString(ByteBuffer(string: "role")), .bulkString(ByteBuffer(string: role)),
                .bulkString(ByteBuffer(string: "health")), .bulkString(ByteBuffer(string: health)),
            ])
        }
        func shard(_ slots: [Int64], _ nodes: [RESPValue]) -> RESPValue {
            .array([
                .bulkString(ByteBuffer(string: "slots")), .array(slots.map(RESPValue.integer)),
                .bulkString(ByteBuffer(string: "nodes")), .array(nodes),
            ])
        }
        let reply = RESPValue.array([
            shard([0, 5460, 16000, 16383], [node("10.0.0.1", "10.0.0.1", 7000, "master", "online"), node("10.0.0.4", "10.0.0.4", 7003, "replica", "online")]),
            // After a failover: the failed former primary is listed too; the online one wins.
            shard([5461, 10922], [node("10.0.0.2", "10.0.0.2", 7001, "master", "failed"), node("10.0.0.5", "?", 7004, "master", "online")]),
            shard([10923, 15999], [node("", "", 7002, "master", "online")]),
            shard([], [node("10.0.0.9", "10.0.0.9", 7009, "master", "online")]),
        ])
        let queried = RedisServerAddress(host: "10.0.0.3", port: 7002)
        let map = try RedisClusterSlotMap(shardsReply: reply, queriedNode: queried)
        #expect(map.ownedSlotCount == RedisHashSlot.count)
        #expect(map.owner(of: 0) == RedisServerAddress(host: "10.0.0.1", port: 7000))
        #expect(map.owner(of: 16383) == RedisServerAddress(host: "10.0.0.1", port: 7000))
        #expect(map.owner(of: 5461) == RedisServerAddress(host: "10.0.0.5", port: 7004))
        #expect(map.owner(of: 12000) == RedisServerAddress(host: "10.0.0.3", port: 7002))
        #expect(map.primaries.count == 3)
    }

    @Test func readsClusterSlotsReply() throws {
        func entry(_ first: Int64, _ last: Int64, _ ip: String, _ port: Int64) -> RESPValue {
            .array([
                .integer(first), .integer(last),
                .array([.bulkString(ByteBuffer(string: ip)), .integer(port), .bulkString(ByteBuffer(string: "id"))]),
                .array([.bulkString(ByteBuffer(string: "10.0.0.9")), .integer(7009), .bulkString(ByteBuffer(string: "replica"))]),
            ])
        }
        let reply = RESPValue.array([entry(0, 8191, "10.0.0.1", 7000), entry(8192, 16382, "", 7001)])
        var map = try RedisClusterSlotMap(slotsReply: reply, queriedNode: RedisServerAddress(host: "10.0.0.2", port: 7001))
        #expect(map.ownedSlotCount == 16383)
        #expect(map.owner(of: 8191) == RedisServerAddress(host: "10.0.0.1", port: 7000))
        #expect(map.owner(of: 8192) == RedisServerAddress(host: "10.0.0.2", port: 7001))
        #expect(map.owner(of: 16383) == nil)

        map.assign(slot: 16383, to: RedisServerAddress(host: "10.0.0.3", port: 7002))
        #expect(map.owner(of: 16383) == RedisServerAddress(host: "10.0.0.3", port: 7002))
        #expect(map.primaries.count == 3)
    }

    @Test func refusesMalformedMaps() {
        #expect(throws: RedisError.self) {
            try RedisClusterSlotMap(shardsReply: .integer(1), queriedNode: RedisServerAddress(host: "h", port: 1))
        }
        #expect(throws: RedisError.self) {
            try RedisClusterSlotMap(slotsReply: .array([.array([.integer(0), .integer(20000), .array([.bulkString(ByteBuffer(string: "h")), .integer(1)])])]), queriedNode: RedisServerAddress(host: "h", port: 1))
        }
    }

    @Test func readsRedirects() throws {
        let moved = try #require(RedisClusterRedirect(.serverError("MOVED 3999 127.0.0.1:6381")))
        #expect(moved.kind == .moved && moved.slot == 3999 && moved.address == RedisServerAddress(host: "127.0.0.1", port: 6381))
        let ask = try #require(RedisClusterRedirect(.serverError("ASK 3999 ::1:6381")))
        #expect(ask.kind == .ask && ask.address == RedisServerAddress(host: "::1", port: 6381))
        #expect(RedisClusterRedirect(.serverError("ERR unknown command")) == nil)
        #expect(RedisClusterRedirect(.serverError("MOVED 99999 127.0.0.1:6381")) == nil)
    }

    @Test func readsClusterConfiguration() throws {
        var document = try ConfigDocument(
            yaml: "redis:\n  mode: cluster\n",
            source: "limiter.yaml",
            environment: ["LIMITER_REDIS_CLUSTER_SEEDS": "10.0.0.1:7000, node-b:7001"],
            prefix: "LIMITER"
        )
        let configuration = try RedisConfiguration(reading: &document)
        #expect(configuration.topology == .cluster(seeds: [RedisServerAddress(host: "10.0.0.1", port: 7000), RedisServerAddress(host: "node-b", port: 7001)]))

        var single = try ConfigDocument(yaml: "", source: "limiter.yaml")
        #expect(try RedisConfiguration(reading: &single).topology == .single)
    }

    @Test(arguments: [
        ("redis:\n  mode: cluster\n", "redis.cluster.seeds"),
        ("redis:\n  mode: cluster\n  cluster:\n    seeds: [10.0.0.1:70000]\n", "redis.cluster.seeds"),
        ("redis:\n  mode: cluster\n  cluster:\n    seeds: [10.0.0.1]\n", "redis.cluster.seeds"),
        ("redis:\n  cluster:\n    seeds: [10.0.0.1:7000]\n", "redis.cluster.seeds"),
        ("redis:\n  mode: cluster\n  database: 2\n  cluster:\n    seeds: [10.0.0.1:7000]\n", "redis.database"),
        ("redis:\n  mode: clustered\n", "redis.mode"),
        ("redis:\n  mode: cluster\n  host: redis\n  cluster:\n    seeds: [10.0.0.1:7000]\n", "redis.host"),
        ("redis:\n  mode: cluster\n  cluster:\n    seeds: [10.0.0.1:7000]\n  sentinel:\n    master_name: gatehouse\n", "redis.sentinel.master_name"),
        ("redis:\n  mode: sentinel\n  cluster:\n    seeds: [10.0.0.1:7000]\n  sentinel:\n    master_name: gatehouse\n    addresses: [s1:26379]\n", "redis.cluster.seeds"),
    ])
    func refusesInconsistentClusterSettings(yaml: String, key: String) throws {
        var document = try ConfigDocument(yaml: yaml, source: "limiter.yaml")
        let error = #expect(throws: ConfigError.self) { try RedisConfiguration(reading: &document) }
        #expect(error?.description.contains("'\(key)'") == true, "\(error.map(String.init(describing:)) ?? "")")
    }
}
