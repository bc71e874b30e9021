import Logging
import NIOCore

/// What a ``RedisClient`` or ``RedisSubscriber`` opens its connections to.
enum RedisConnectionTarget: Sendable {
    /// The one server of the configuration (``RedisTopology/single``).
    case server(RedisConfiguration)
    /// The primary the sentinels name, checked with `ROLE` (``RedisTopology/sentinel(masterName:sentinels:)``).
    case sentinelPrimary(RedisSentinelResolver)
    /// Any of the sentinels, to hear their failover announcements.
    case sentinels(RedisSentinelResolver)

    /// The target of `configuration`'s topology.
    init(_ configuration: RedisConfiguration) {
        switch configuration.topology {
        case .single:
            self = .server(configuration)
        case .sentinel(let masterName, let sentinels):
            self = .sentinelPrimary(RedisSentinelResolver(masterName: masterName, sentinels: sentinels, configuration: configuration))
        }
    }

    /// The resolver whose failovers a client of the primary follows; `nil` for a single server.
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
