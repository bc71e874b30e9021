import Logging
import NIOCore

/// What a ``RedisClient`` or ``RedisSubscriber`` opens its connections to.
enum RedisConnectionTarget: Sendable {
    /// One server: that of ``RedisTopology/single``, or a node of a cluster.
    case server(RedisConfiguration)
    /// The primary the sentinels name, checked with `ROLE` (``RedisTopology/sentinel(masterName:sentinels:)``).
    case sentinelPrimary(RedisSentinelResolver)
    /// Any of the sentinels, to hear their failover announcements.
    case sentinels(RedisSentinelResolver)

    /// The targets of `configuration`, tried in turn: the one server, the primary the sentinels name, or each
    /// seed of a cluster.
    static func targets(of configuration: RedisConfiguration) -> [RedisConnectionTarget] {
        switch configuration.topology {
        case .single:
            return [.server(configuration)]
        case .cluster(let seeds):
            return seeds.map { .server(configuration.addressed(to: $0)) }
        case .sentinel(let masterName, let sentinels):
            return [.sentinelPrimary(RedisSentinelResolver(masterName: masterName, sentinels: sentinels, configuration: configuration))]
        }
    }

    /// What the target is, for messages and logs.
    var endpoint: String {
        switch self {
        case .server(let configuration):
            return configuration.endpoint
        case .sentinelPrimary(let resolver), .sentinels(let resolver):
            return resolver.endpoint
        }
    }

    /// The resolver whose failovers a client of the primary follows; `nil` for a server (single or a cluster node)
    /// and for the sentinels themselves.
    var followedPrimary: RedisSentinelResolver? {
        if case .sentinelPrimary(let resolver) = self {
            return resolver
        }
        return nil
    }

    /// Opens an authenticated connection to the target.
    func connect(
        eventLoop: any EventLoop,
        logger: Logger,
        unsolicitedReplyHandler: RedisCommandHandler.UnsolicitedReplyHandler? = nil
    ) -> EventLoopFuture<RedisConnection> {
        switch self {
        case .server(let configuration):
            return RedisConnection.connect(
                configuration: configuration,
                eventLoop: eventLoop,
                logger: logger,
                unsolicitedReplyHandler: unsolicitedReplyHandler
            )
        case .sentinelPrimary(let resolver):
            return resolver.connectToPrimary(eventLoop: eventLoop, logger: logger, unsolicitedReplyHandler: unsolicitedReplyHandler)
        case .sentinels(let resolver):
            return resolver.connectToSentinel(eventLoop: eventLoop, logger: logger, unsolicitedReplyHandler: unsolicitedReplyHandler)
        }
    }
}
