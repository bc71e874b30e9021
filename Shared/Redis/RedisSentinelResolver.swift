import Logging
import NIOCore
import Synchronization

/// Finds a Redis primary through its sentinels, following the Redis "sentinel clients" guidelines.
///
/// The sentinels are asked in turn (`SENTINEL get-master-addr-by-name`) until one answers; that one is asked
/// first next time. The primary's connection is then checked with `ROLE`: a node that is not (or no longer)
/// a master is closed and the attempt fails, to be retried with the caller's backoff. Sentinels are contacted
/// without `AUTH` and on database 0; the primary with the configuration's credentials and database.
///
/// ``watchFailovers(eventLoopGroup:logger:onSwitch:)`` listens for the sentinels' `+switch-master`
/// announcements, so that connections to a former primary are dropped as soon as a failover completes.
final class RedisSentinelResolver: Sendable {
    /// The name the sentinels monitor the primary under.
    private let masterName: String
    /// The settings of connections to the primary; `host` and `port` are replaced by its address.
    private let configuration: RedisConfiguration
    /// The sentinels in the order they are asked: the last one that answered first.
    private let sentinels: Mutex<[RedisServerAddress]>

    /// - Parameters:
    ///   - masterName: The name the sentinels monitor the primary under.
    ///   - sentinels: The sentinels' addresses; at least one.
    ///   - configuration: Credentials, database and timeouts for the primary and the sentinels.
    init(masterName: String, sentinels: [RedisServerAddress], configuration: RedisConfiguration) {
        self.masterName = masterName
        self.configuration = configuration
        self.sentinels = Mutex(sentinels)
    }

    /// The primary's name and its sentinels, for messages and logs.
    var endpoint: String {
        self.configuration.endpoint
    }

    /// Asks the sentinels where the primary is, connects to it and checks that it is a master.
    ///
    /// - Returns: A connection to the primary, authenticated and on the configured database; fails with a
    ///   ``RedisError`` when no sentinel answers, none knows the primary, it cannot be reached, or it is not
    ///   a master (a failover is under way).
    func connectToPrimary(
        eventLoop: any EventLoop,
        logger: Logger,
        unsolicitedReplyHandler: RedisCommandHandler.UnsolicitedReplyHandler?
    ) -> EventLoopFuture<RedisConnection> {
        self.primaryAddress(eventLoop: eventLoop, logger: logger).flatMap { address in
            RedisConnection.connect(
                configuration: self.configuration.addressed(to: address),
                eventLoop: eventLoop,
                logger: logger,
                unsolicitedReplyHandler: unsolicitedReplyHandler
            ).flatMap { connection in
                Self.confirmMaster(connection, masterName: self.masterName)
            }
        }
    }

    /// Connects to the first sentinel that accepts a connection (the last one that answered first).
    func connectToSentinel(
        eventLoop: any EventLoop,
        logger: Logger,
        unsolicitedReplyHandler: RedisCommandHandler.UnsolicitedReplyHandler?
    ) -> EventLoopFuture<RedisConnection> {
        self.askSentinels(eventLoop: eventLoop, logger: logger, unsolicitedReplyHandler: unsolicitedReplyHandler) {
            $0.channel.eventLoop.makeSucceededFuture($0)
        }
    }

    /// Listens on a sentinel for `+switch-master` until the task is cancelled, and calls `onSwitch` with the new
    /// primary's address when this primary moves. The subscription moves to another sentinel when its
    /// connection is lost, with the configuration's backoff.
    func watchFailovers(
        eventLoopGroup: any EventLoopGroup,
        logger: Logger,
        onSwitch: @Sendable (RedisServerAddress) -> Void
    ) async {
        let announcements = RedisSubscriber(
            targets: [.sentinels(self)],
            configuration: self.configuration,
            channels: [Self.switchChannel],
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await announcements.run()
            }
            for await event in announcements.events {
                guard case .message(_, let payload) = event,
                    let newPrimary = self.switchedPrimary(announcement: String(buffer: payload))
                else {
                    continue
                }
                logger.info(
                    "The sentinels moved the Redis primary; reconnecting to it",
                    metadata: ["master": "\(self.masterName)", "primary": "\(newPrimary)"]
                )
                onSwitch(newPrimary)
            }
        }
    }

    /// The sentinels' channel that announces a completed failover.
    private static let switchChannel = "+switch-master"

    /// The new address from a `+switch-master` payload (`<name> <old-ip> <old-port> <new-ip> <new-port>`) for
    /// this primary; `nil` for another primary's or a malformed one.
    private func switchedPrimary(announcement: String) -> RedisServerAddress? {
        let fields = announcement.split(separator: " ")
        guard fields.count == 5, fields[0] == self.masterName, let port = Int(fields[4]) else {
            return nil
        }
        return RedisServerAddress(host: String(fields[3]), port: port)
    }

    // MARK: - Asking the sentinels

    private func primaryAddress(eventLoop: any EventLoop, logger: Logger) -> EventLoopFuture<RedisServerAddress> {
        let masterName = self.masterName
        return self.askSentinels(eventLoop: eventLoop, logger: logger, unsolicitedReplyHandler: nil) { sentinel in
            sentinel.channel.eventLoop.makeCompletedFuture {
                try RESPCommandEncoder.encode(["SENTINEL", "get-master-addr-by-name", masterName])
            }
            .flatMap { sentinel.send(encoded: $0) }
            .flatMapThrowing { reply in
                guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].int else {
                    throw SentinelAnswer(reply.isNull ? "it monitors no primary named '\(masterName)'" : "it answered \(reply)")
                }
                return RedisServerAddress(host: host, port: port)
            }
            .always { _ in sentinel.close() }
        }
    }

    /// Connects to the sentinels in turn and asks `question` of each until one answers; moves that one first.
    private func askSentinels<Answer: Sendable>(
        eventLoop: any EventLoop,
        logger: Logger,
        unsolicitedReplyHandler: RedisCommandHandler.UnsolicitedReplyHandler?,
        _ question: @escaping @Sendable (RedisConnection) -> EventLoopFuture<Answer>
    ) -> EventLoopFuture<Answer> {
        let order = self.sentinels.withLock { $0 }
        return self.ask(
            order[...],
            failures: [],
            eventLoop: eventLoop,
            logger: logger,
            unsolicitedReplyHandler: unsolicitedReplyHandler,
            question
        )
    }

    private func ask<Answer: Sendable>(
        _ remaining: ArraySlice<RedisServerAddress>,
        failures: [String],
        eventLoop: any EventLoop,
        logger: Logger,
        unsolicitedReplyHandler: RedisCommandHandler.UnsolicitedReplyHandler?,
        _ question: @escaping @Sendable (RedisConnection) -> EventLoopFuture<Answer>
    ) -> EventLoopFuture<Answer> {
        guard let sentinel = remaining.first else {
            return eventLoop.makeFailedFuture(RedisError.noSentinelNamedThePrimary(endpoint: self.configuration.endpoint, answers: failures))
        }
        let sentinelConfiguration = RedisConfiguration(
            host: sentinel.host,
            port: sentinel.port,
            connectTimeout: self.configuration.connectTimeout,
            commandTimeout: self.configuration.commandTimeout
        )
        return RedisConnection.connect(
            configuration: sentinelConfiguration,
            eventLoop: eventLoop,
            logger: logger,
            unsolicitedReplyHandler: unsolicitedReplyHandler
        )
        .flatMap { connection in
            question(connection).flatMapErrorThrowing { error in
                connection.close()
                throw error
            }
        }
        .map { answer in
            self.sentinels.withLock { order in
                if let index = order.firstIndex(of: sentinel), index > 0 {
                    order.remove(at: index)
                    order.insert(sentinel, at: 0)
                }
            }
            return answer
        }
        .flatMapError { error in
            logger.debug("A Redis sentinel did not answer; asking the next", metadata: ["sentinel": "\(sentinel)", "error": "\(error)"])
            return self.ask(
                remaining.dropFirst(),
                failures: failures + ["\(sentinel): \((error as? SentinelAnswer)?.problem ?? "\(error)")"],
                eventLoop: eventLoop,
                logger: logger,
                unsolicitedReplyHandler: unsolicitedReplyHandler,
                question
            )
        }
    }

    /// Passes `connection` on when `ROLE` says it is a master; otherwise closes it and fails.
    private static func confirmMaster(_ connection: RedisConnection, masterName: String) -> EventLoopFuture<RedisConnection> {
        connection.channel.eventLoop.makeCompletedFuture {
            try RESPCommandEncoder.encode(["ROLE"])
        }
        .flatMap { connection.send(encoded: $0) }
        .flatMapThrowing { reply -> RedisConnection in
            guard let role = reply.array?.first?.string, role == "master" else {
                throw RedisError.connectionFailed(
                    endpoint: connection.endpoint,
                    reason: "the sentinels name it the primary '\(masterName)', but its ROLE is \(reply.array?.first?.string ?? "\(reply)") (a failover is under way)"
                )
            }
            return connection
        }
        .flatMapErrorThrowing { error in
            connection.close()
            throw error
        }
    }
}

/// A sentinel that answered, but not with the primary's address.
private struct SentinelAnswer: Error {
    let problem: String

    init(_ problem: String) {
        self.problem = problem
    }
}

extension RedisConnection {
    /// Whether this connection was opened to `address`.
    func leads(to address: RedisServerAddress) -> Bool {
        self.endpoint == "\(address.host):\(address.port)"
    }
}
