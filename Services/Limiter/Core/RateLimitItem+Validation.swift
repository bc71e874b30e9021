import GatehouseLimiterPolicies
import GatehouseRedis

extension RateLimitItem {
    /// The largest accepted ``limit``, ``burst`` and ``cost``: the policy file's bound.
    static let maximumCount = RateLimitPolicy.maximumCount
    /// The longest accepted ``period``; keeps the script's microsecond timestamps exact in Lua's doubles.
    static let maximumPeriod = Duration.seconds(10 * 366 * 86_400)

    /// The period in whole microseconds, as the rate-limit script takes it.
    var periodMicroseconds: Int64 {
        let components = self.period.components
        return components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }

    /// The most units one request can ever be granted: ``burst`` for the bucket algorithms, ``limit`` for the
    /// window algorithms.
    var capacity: Int {
        switch self.algorithm {
        case .gcra, .tokenBucket:
            return self.burst
        case .slidingWindow, .fixedWindow:
            return self.limit
        }
    }

    /// Checks every field's range.
    ///
    /// - Parameter index: The item's position in its list, for the error.
    /// - Throws: ``RateLimitItemError`` naming the first invalid field.
    func validate(index: Int) throws(RateLimitItemError) {
        let range = 1...Self.maximumCount
        guard !self.key.isEmpty else {
            throw RateLimitItemError(field: .key, index: index, reason: "is empty; pass the full Redis key")
        }
        guard range.contains(self.limit) else {
            throw RateLimitItemError(field: .limit, index: index, reason: "is \(self.limit); it must be in \(range)")
        }
        guard self.period >= .milliseconds(1), self.period <= Self.maximumPeriod else {
            throw RateLimitItemError(
                field: .period,
                index: index,
                reason: "is \(self.period); it must be at least 1 ms and at most \(Self.maximumPeriod)"
            )
        }
        guard range.contains(self.burst) else {
            throw RateLimitItemError(field: .burst, index: index, reason: "is \(self.burst); it must be in \(range)")
        }
        guard (0...self.capacity).contains(self.cost) else {
            throw RateLimitItemError(
                field: .cost,
                index: index,
                reason: "is \(self.cost); it must be in 0...\(self.capacity) (the item's capacity), or it could never be allowed"
            )
        }
    }
}

extension [RateLimitItem] {
    /// Checks that the list is not empty, that every item is valid, and that no key appears twice (two items on
    /// one key would each decide from the same old state and overwrite each other's charge).
    ///
    /// - Throws: ``RateLimitItemError`` naming the first problem.
    func validate() throws(RateLimitItemError) {
        guard !self.isEmpty else {
            throw RateLimitItemError(field: .items, index: nil, reason: "the list is empty; pass at least one item")
        }
        for (index, item) in self.enumerated() {
            try item.validate(index: index)
            // A request has a handful of items: comparing with the earlier ones beats hashing into a set.
            guard !self[..<index].contains(where: { $0.key == item.key }) else {
                throw RateLimitItemError(
                    field: .key,
                    index: index,
                    reason: "\"\(item.key)\" is used by an earlier item; every item needs its own key"
                )
            }
        }
    }

    /// Checks that every key is in the first key's Redis Cluster hash slot, as one script call on a cluster
    /// needs: the keys of one request must share their key value (the tag in `{…}`).
    ///
    /// - Throws: ``RateLimitItemError`` naming the first key in another slot.
    func validateSharedSlot() throws(RateLimitItemError) {
        guard let first = self.first else { return }
        let slot = RedisHashSlot.slot(of: first.key)
        for (index, item) in self.enumerated().dropFirst() {
            let itemSlot = RedisHashSlot.slot(of: item.key)
            guard itemSlot == slot else {
                throw RateLimitItemError(
                    field: .key,
                    index: index,
                    reason: "\"\(item.key)\" is in Redis Cluster hash slot \(itemSlot) and the first item's \"\(first.key)\" in \(slot): "
                        + "with redis.mode cluster every item of one request needs the same key value (the part in {…}), so that one "
                        + "script on one node decides them all or nothing; give the request's policies the same key parts"
                )
            }
        }
    }
}
