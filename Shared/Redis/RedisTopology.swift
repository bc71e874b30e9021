/// How the Redis deployment a ``RedisClient`` talks to is laid out, and how its primary is found (`redis.mode`).
public enum RedisTopology: Sendable, Hashable {
    /// One server at ``RedisConfiguration/host`` and ``RedisConfiguration/port`` (`redis.mode: single`).
    case single
    /// A Redis Cluster (`redis.mode: cluster`): the slot map is read from any of `seeds` (`redis.cluster.seeds`),
    /// and each command goes to the primary that owns its key's hash slot.
    case cluster(seeds: [RedisServerAddress])
    /// The primary that the sentinels at `sentinels` monitor under `masterName` (`redis.mode: sentinel`): asked
    /// of them on every connect, and followed to a new primary after a failover.
    case sentinel(masterName: String, sentinels: [RedisServerAddress])
}
