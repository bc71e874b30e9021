/// Which primary of a Redis Cluster owns each of the 16384 hash slots, as read from `CLUSTER SHARDS` (Redis 7)
/// or `CLUSTER SLOTS` (older servers).
struct RedisClusterSlotMap: Sendable, Equatable {
    /// The primaries that own at least one slot, in the order the reply named them.
    private(set) var primaries: [RedisServerAddress]
    /// Per slot, the index of its owner in ``primaries``, or ``unowned``.
    private var owners: [UInt16]

    private static let unowned = UInt16.max

    private init() {
        self.primaries = []
        self.owners = Array(repeating: Self.unowned, count: RedisHashSlot.count)
    }

    /// The primary that owns `slot`, or `nil` when no node does.
    func owner(of slot: Int) -> RedisServerAddress? {
        let index = self.owners[slot]
        return index == Self.unowned ? nil : self.primaries[Int(index)]
    }

    /// The number of slots some primary owns (16384 when the whole cluster is covered).
    var ownedSlotCount: Int {
        self.owners.reduce(0) { $0 + ($1 == Self.unowned ? 0 : 1) }
    }

    /// Records that `address` owns `slot` now (a `MOVED` answer), ahead of the next full refresh.
    mutating func assign(slot: Int, to address: RedisServerAddress) {
        self.owners[slot] = self.index(of: address)
    }

    /// Reads a `CLUSTER SHARDS` reply: per shard a flat list of fields, `slots` (pairs of first and last slot)
    /// and `nodes` (each a flat list with `ip`, `endpoint`, `port`, `role`, `health`); the shard's slots go to
    /// its `master`, an `online` one when there are several.
    /// - Parameters:
    ///   - reply: The reply.
    ///   - queriedNode: The node that answered: its host stands for an empty or unknown address.
    /// - Throws: ``RedisError/Code/protocolError`` when the reply does not have that shape.
    init(shardsReply reply: RESPValue, queriedNode: RedisServerAddress) throws(RedisError) {
        self.init()
        guard let shards = reply.array else {
            throw Self.malformed("CLUSTER SHARDS", reply, queriedNode)
        }
        for shard in shards {
            guard let fields = Self.fields(shard), let slotBounds = fields["slots"]?.array, let nodes = fields["nodes"]?.array else {
                throw Self.malformed("CLUSTER SHARDS", shard, queriedNode)
            }
            let primaries = nodes.compactMap(Self.fields).filter { $0["role"]?.string == "master" }
            guard let primary = primaries.first(where: { $0["health"]?.string == "online" }) ?? primaries.first,
                let port = primary["port"]?.int
            else {
                continue
            }
            let endpoint = primary["endpoint"]?.string
            let host = Self.host(endpoint.flatMap { $0 == "?" ? nil : $0 } ?? primary["ip"]?.string, queriedNode: queriedNode)
            try self.assign(ranges: slotBounds, to: RedisServerAddress(host: host, port: port), reply: shard, queriedNode: queriedNode)
        }
    }

    /// Reads a `CLUSTER SLOTS` reply: per range its first and last slot, then its nodes, the primary first,
    /// each `[ip, port, id, …]`.
    /// - Parameters:
    ///   - reply: The reply.
    ///   - queriedNode: The node that answered: its host stands for an empty address.
    /// - Throws: ``RedisError/Code/protocolError`` when the reply does not have that shape.
    init(slotsReply reply: RESPValue, queriedNode: RedisServerAddress) throws(RedisError) {
        self.init()
        guard let ranges = reply.array else {
            throw Self.malformed("CLUSTER SLOTS", reply, queriedNode)
        }
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let primary = parts[2].array, primary.count >= 2,
                let port = primary[1].int
            else {
                throw Self.malformed("CLUSTER SLOTS", range, queriedNode)
            }
            let host = Self.host(primary[0].string, queriedNode: queriedNode)
            try self.assign(ranges: Array(parts[0...1]), to: RedisServerAddress(host: host, port: port), reply: range, queriedNode: queriedNode)
        }
    }

    private mutating func assign(ranges bounds: [RESPValue], to address: RedisServerAddress, reply: RESPValue, queriedNode: RedisServerAddress) throws(RedisError) {
        guard bounds.count % 2 == 0 else {
            throw Self.malformed("the slot map", reply, queriedNode)
        }
        guard !bounds.isEmpty else {
            // A shard without slots (a primary being added or drained) routes nothing.
            return
        }
        let index = self.index(of: address)
        for pair in stride(from: 0, to: bounds.count, by: 2) {
            guard let first = bounds[pair].int, let last = bounds[pair + 1].int, 0 <= first, first <= last,
                last < RedisHashSlot.count
            else {
                throw Self.malformed("the slot map", reply, queriedNode)
            }
            for slot in first...last {
                self.owners[slot] = index
            }
        }
    }

    private mutating func index(of address: RedisServerAddress) -> UInt16 {
        if let index = self.primaries.firstIndex(of: address) {
            return UInt16(index)
        }
        self.primaries.append(address)
        return UInt16(self.primaries.count - 1)
    }

    /// A node's address as announced, or the queried node's host when it announced none (`""` or `?`).
    private static func host(_ announced: String?, queriedNode: RedisServerAddress) -> String {
        guard let announced, !announced.isEmpty, announced != "?" else {
            return queriedNode.host
        }
        return announced
    }

    /// A flat `[name, value, name, value, …]` list as a dictionary.
    private static func fields(_ value: RESPValue) -> [String: RESPValue]? {
        guard let items = value.array, items.count % 2 == 0 else {
            return nil
        }
        var fields: [String: RESPValue] = [:]
        for pair in stride(from: 0, to: items.count, by: 2) {
            guard let name = items[pair].string else {
                return nil
            }
            fields[name] = items[pair + 1]
        }
        return fields
    }

    private static func malformed(_ source: String, _ value: RESPValue, _ node: RedisServerAddress) -> RedisError {
        .protocolError(endpoint: node.description, reason: "\(source) holds an unexpected entry: \(value)")
    }
}
