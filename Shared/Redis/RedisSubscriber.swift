import GatehouseNIOSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Subscribes to Redis pub/sub channels on a dedicated connection and delivers what arrives as ``events``.
///
/// ``run()`` connects, authenticates, subscribes, and keeps the subscription alive: after the connection is lost
/// (server restart, `CLIENT KILL`, network trouble) it reconnects with exponential backoff and jitter,
/// subscribes again and reports ``RedisSubscriberEvent/resubscribed``.
///
/// On a Redis Cluster it subscribes on one node, a seed (``RedisTopology/cluster(seeds:)``): classic pub/sub
/// is cluster-wide, every node passes every `PUBLISH` on to its subscribers. After a failed attempt or a lost
/// connection it moves on to the next seed. With ``RedisTopology/sentinel(masterName:sentinels:)`` it
/// subscribes on the primary the sentinels name, and drops that connection as soon as they announce a
/// failover (`+switch-master`), to subscribe on the new primary.
public final class RedisSubscriber: Sendable, Service {
    /// How many undelivered events ``events`` holds; when the consumer falls further behind, the oldest are dropped.
    public static let eventBufferLimit = 10_000

    /// The subscription's events, in order. Single consumer; finishes when ``run()`` returns.
    public let events: AsyncStream<RedisSubscriberEvent>

    private let eventsContinuation: AsyncStream<RedisSubscriberEvent>.Continuation
    /// What to subscribe on, tried in turn: the one server, the primary the sentinels name, or the cluster's seeds.
    private let targets: [RedisConnectionTarget]
    /// The sentinels' primary whose failovers are followed; `nil` otherwise.
    private let followedPrimary: RedisSentinelResolver?
    /// The subscribed connection, for closing it when the primary moves.
    private let subscribedConnection = Mutex<RedisConnection?>(nil)
    /// Ends the current reconnect pause early when the primary moves.
    private let pauseInterruption = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let channels: [String]
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let backoff: ReconnectBackoff

    /// Creates a subscriber; nothing is opened until ``run()``.
    ///
    /// - Parameters:
    ///   - configuration: Where the server (the cluster's seeds, the sentinels) is and how to authenticate (`poolSize` is not used).
    ///   - channels: The channel names to subscribe to; at least one.
    ///   - eventLoopGroup: The event loops the connection runs on.
    ///   - logger: Receives connection events.
    public convenience init(
        configuration: RedisConfiguration,
        channels: [String],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.init(
            targets: RedisConnectionTarget.targets(of: configuration),
            configuration: configuration,
            channels: channels,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
    }

    /// Creates a subscriber on `targets`, tried in turn; `configuration` gives its backoff.
    init(
        targets: [RedisConnectionTarget],
        configuration: RedisConfiguration,
        channels: [String],
        eventLoopGroup: any EventLoopGroup,
        logger: Logger
    ) {
        self.targets = targets
        self.followedPrimary = targets.first?.followedPrimary
        self.channels = channels
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.backoff = ReconnectBackoff(
            initial: configuration.reconnectInitialBackoff,
            maximum: configuration.reconnectMaximumBackoff
        )
        (self.events, self.eventsContinuation) = AsyncStream.makeStream(
            of: RedisSubscriberEvent.self,
            bufferingPolicy: .bufferingNewest(Self.eventBufferLimit)
        )
    }

    /// Keeps the subscription alive until the task is cancelled or a graceful shutdown begins, then closes the
    /// connection and finishes ``events``. Call it once per subscriber.
    ///
    /// - Throws: ``RedisError/Code/invalidCommand`` at once when no channel was given; connection problems are
    ///   logged and retried, not thrown.
    public func run() async throws {
        defer { self.eventsContinuation.finish() }
        guard !self.channels.isEmpty else {
            throw RedisError.invalidCommand("RedisSubscriber needs at least one channel to subscribe to")
        }
        let subscribeCommand = try RESPCommandEncoder.encode(["SUBSCRIBE"] + self.channels)
        await cancelWhenGracefulShutdown {
            guard let primary = self.followedPrimary else {
                await self.stayingSubscribed(subscribeCommand: subscribeCommand)
                return
            }
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await primary.watchFailovers(eventLoopGroup: self.eventLoopGroup, logger: self.logger) { newPrimary in
                        self.primaryMoved(to: newPrimary)
                    }
                }
                await self.stayingSubscribed(subscribeCommand: subscribeCommand)
                group.cancelAll()
            }
        }
    }

    /// Closes the subscription's connection unless it is to `newPrimary`; the subscriber then subscribes again.
    private func primaryMoved(to newPrimary: RedisServerAddress) {
        let stale = self.subscribedConnection.withLock { connection -> RedisConnection? in
            guard let current = connection, !current.leads(to: newPrimary) else {
                return nil
            }
            return current
        }
        stale?.close()
        self.pauseInterruption.withLock { $0 }?.yield()
    }

    /// Waits `delay` before the next attempt; when following a primary, a failover announcement ends the
    /// wait at once.
    private func pause(for delay: Duration) async {
        guard self.followedPrimary != nil else {
            try? await Task.sleep(for: delay)
            return
        }
        let (interruptions, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.pauseInterruption.withLock { $0 = continuation }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: delay) }
            group.addTask {
                for await _ in interruptions { return }
            }
            await group.next()
            group.cancelAll()
        }
        self.pauseInterruption.withLock { $0 = nil }
    }

    private func stayingSubscribed(subscribeCommand: ByteBuffer) async {
        var hasSubscribed = false
        var consecutiveFailures = 0
        var targetIndex = 0
        while !Task.isCancelled {
            let target = self.targets[targetIndex % self.targets.count]
            // The next attempt, after a failure or a loss, goes to the next target (a cluster's next seed).
            targetIndex += 1
            let connection: RedisConnection
            do {
                connection = try await self.subscribe(
                    on: target,
                    subscribeCommand: subscribeCommand,
                    announcing: hasSubscribed ? .resubscribed : .subscribed
                )
            } catch {
                consecutiveFailures += 1
                let delay = self.backoff.delay(afterFailures: consecutiveFailures)
                self.logger.warning(
                    "Could not subscribe to Redis channels",
                    metadata: ["error": "\(error)", "endpoint": "\(target.endpoint)", "retry-in": "\(delay.millisecondsDescription)"]
                )
                await self.pause(for: delay)
                continue
            }
            hasSubscribed = true
            consecutiveFailures = 0
            self.logger.debug("Subscribed to Redis channels", metadata: ["channels": "\(self.channels)", "endpoint": "\(target.endpoint)"])
            self.subscribedConnection.withLock { $0 = connection }
            await withTaskCancellationHandler {
                try? await connection.closeFuture.get()
            } onCancel: {
                connection.close()
            }
            self.subscribedConnection.withLock { $0 = nil }
            if !Task.isCancelled {
                self.logger.warning(
                    "Redis subscription connection lost; resubscribing",
                    metadata: ["endpoint": "\(target.endpoint)"]
                )
            }
        }
    }

    /// Connects and subscribes; `announcement` is yielded on the event loop as soon as Redis confirms, so it
    /// precedes every message of this connection in ``events``.
    private func subscribe(
        on target: RedisConnectionTarget,
        subscribeCommand: ByteBuffer,
        announcing announcement: RedisSubscriberEvent
    ) async throws -> RedisConnection {
        let continuation = self.eventsContinuation
        let logger = self.logger
        let endpoint = target.endpoint
        let connection = try await target.connect(
            eventLoop: self.eventLoopGroup.next(),
            logger: self.logger,
            unsolicitedReplyHandler: { reply in
                Self.deliver(reply, to: continuation, logger: logger)
            }
        ).get()
        do {
            try await connection.send(encoded: subscribeCommand)
                .flatMapThrowing { reply in
                    guard case .array(let parts) = reply, let kind = parts.first?.string, kind == "subscribe" else {
                        throw RedisError.protocolError(endpoint: endpoint, reason: "SUBSCRIBE answered \(reply)")
                    }
                    continuation.yield(announcement)
                }
                .get()
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Turns a pub/sub push into an event; runs on the connection's event loop.
    private static func deliver(
        _ reply: RESPReplyParser.Reply,
        to continuation: AsyncStream<RedisSubscriberEvent>.Continuation,
        logger: Logger
    ) {
        switch reply {
        case .value(.array(let parts)) where parts.count == 3 && parts[0].string == "message":
            guard let channel = parts[1].string, let payload = parts[2].bytes else {
                logger.warning("Ignoring a malformed pub/sub message", metadata: ["reply": "\(reply)"])
                return
            }
            if case .dropped = continuation.yield(.message(channel: channel, payload: payload)) {
                logger.debug("Subscriber events buffer is full; dropped the oldest event")
            }
        case .value(.array(let parts)) where parts.first?.string == "subscribe":
            // Confirmation for a further channel of the same SUBSCRIBE.
            return
        case .value, .serverError:
            logger.warning("Ignoring an unexpected reply on the subscription connection", metadata: ["reply": "\(reply)"])
        }
    }
}
