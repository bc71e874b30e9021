import GatehouseNIOSupport
import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis with a ``RedisCommandHandler``, authenticated and on the configured database.
final class RedisConnection: Sendable {
    let channel: any Channel
    let endpoint: String

    private init(channel: any Channel, endpoint: String) {
        self.channel = channel
        self.endpoint = endpoint
    }

    /// Whether the connection can still carry commands.
    var isActive: Bool {
        self.channel.isActive
    }

    /// Completed when the connection has closed, for whatever reason.
    var closeFuture: EventLoopFuture<Void> {
        self.channel.closeFuture
    }

    /// Closes the connection; queued commands fail with ``RedisError/Code/connectionClosed``.
    func close() {
        self.channel.close(mode: .all, promise: nil)
    }

    /// Sends an encoded command; the future holds the reply or a ``RedisError``.
    func send(encoded: ByteBuffer) -> EventLoopFuture<RESPValue> {
        let replyPromise = self.channel.eventLoop.makePromise(of: RESPValue.self)
        self.write(encoded: encoded, replyPromise: replyPromise)
        return replyPromise.futureResult
    }

    /// Sends an encoded command and waits for its reply.
    ///
    /// Cancelling the task fails the wait with `CancellationError`; the command stays in the pipeline and its
    /// reply is discarded when it arrives.
    func send(encoded: ByteBuffer) async throws -> RESPValue {
        let replyPromise = self.channel.eventLoop.makePromise(of: RESPValue.self)
        self.write(encoded: encoded, replyPromise: replyPromise)
        return try await withTaskCancellationHandler {
            try await replyPromise.futureResult.get()
        } onCancel: {
            replyPromise.fail(CancellationError())
        }
    }

    private func write(encoded: ByteBuffer, replyPromise: EventLoopPromise<RESPValue>) {
        let endpoint = self.endpoint
        let request = RedisCommandRequest(encoded: encoded, replyPromise: replyPromise)
        self.channel.writeAndFlush(request).whenFailure { error in
            replyPromise.fail(error as? RedisError ?? RedisError.connectionClosed(endpoint: endpoint, reason: "\(error)"))
        }
    }

    /// Opens a connection, then sends `AUTH` (when a password is configured) and `SELECT` (when the database is
    /// not 0). The future fails with a ``RedisError``; a rejected password gives ``RedisError/Code/authenticationFailed``.
    static func connect(
        configuration: RedisConfiguration,
        eventLoop: any EventLoop,
        logger: Logger,
        unsolicitedReplyHandler: RedisCommandHandler.UnsolicitedReplyHandler? = nil
    ) -> EventLoopFuture<RedisConnection> {
        let endpoint = configuration.endpoint
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try RedisCommandHandler(
                        configuration: configuration,
                        logger: logger,
                        unsolicitedReplyHandler: unsolicitedReplyHandler
                    )
                    try channel.pipeline.syncOperations.addHandlers(FlushCoalescingHandler(), handler)
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMapErrorThrowing { error in
                throw Self.connectError(from: error, configuration: configuration)
            }
            .flatMap { channel in
                let connection = RedisConnection(channel: channel, endpoint: endpoint)
                return connection.handshake(configuration: configuration)
                    .map { connection }
                    .flatMapError { error in
                        connection.close()
                        return channel.eventLoop.makeFailedFuture(error)
                    }
            }
    }

    private static func connectError(from error: any Error, configuration: RedisConfiguration) -> RedisError {
        switch error {
        case let error as RedisError:
            return error
        case ChannelError.connectTimeout:
            return .connectTimeout(endpoint: configuration.endpoint, timeout: configuration.connectTimeout)
        case let error as RESPReplyParserError:
            return .connectionFailed(endpoint: configuration.endpoint, reason: error.reason)
        default:
            return .connectionFailed(endpoint: configuration.endpoint, reason: "\(error)")
        }
    }

    private func handshake(configuration: RedisConfiguration) -> EventLoopFuture<Void> {
        let eventLoop = self.channel.eventLoop
        var steps: [EventLoopFuture<Void>] = []
        do {
            if let password = configuration.password {
                var arguments = ["AUTH"]
                if let username = configuration.username {
                    arguments.append(username)
                }
                arguments.append(password)
                let endpoint = self.endpoint
                let authenticated = self.send(encoded: try RESPCommandEncoder.encode(arguments))
                    .flatMapErrorThrowing { error -> RESPValue in
                        guard let error = error as? RedisError, error.code == .serverError,
                            let message = error.serverMessage
                        else {
                            throw error
                        }
                        throw RedisError.authenticationFailed(endpoint: endpoint, serverMessage: message)
                    }
                steps.append(authenticated.map { _ in })
            }
            if configuration.database != 0 {
                let selected = self.send(encoded: try RESPCommandEncoder.encode(["SELECT", String(configuration.database)]))
                steps.append(selected.map { _ in })
            }
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return EventLoopFuture.andAllSucceed(steps, on: eventLoop)
    }
}
