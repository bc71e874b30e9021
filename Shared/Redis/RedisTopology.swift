/// How a service reaches Redis: where its primary is and how it is found.
public enum RedisTopology: Sendable, Hashable {
    /// One server at ``RedisConfiguration/host`` and ``RedisConfiguration/port``.
    case single
    /// The primary that the sentinels at `sentinels` monitor under `masterName`: asked of them on every
    /// connect, and followed to a new primary after a failover.
    case sentinel(masterName: String, sentinels: [RedisServerAddress])
}
