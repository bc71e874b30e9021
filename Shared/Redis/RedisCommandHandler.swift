import Logging
import NIOCore

/// Pipelines commands on one Redis connection.
///
/// Outbound ``RedisCommandRequest``s are written immediately and their promises queued in order; every complete
/// reply parsed from the inbound bytes completes the oldest queued promise (Redis answers in order).
/// Replies that arrive with no command waiting (pub/sub messages) go to `unsolicitedReplyHandler`, if any.
///
/// A command not answered within the command timeout fails with ``RedisError/Code/commandTimeout``, and the
/// connection is closed: its late reply would otherwise be matched with the next command. When the connection
/// closes or fails, every queued command fails, and later writes fail at once.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisCommandRequest
    typealias OutboundOut = ByteBuffer

    /// Receives replies that arrive while no command is waiting; called on the channel's event loop.
    typealias UnsolicitedReplyHandler = @Sendable (RESPReplyParser.Reply) -> Void

    private struct PendingCommand {
        let replyPromise: EventLoopPromise<RESPValue>
        let deadline: NIODeadline
    }

    private let parser: RESPReplyParser
    private let endpoint: String
    private let commandTimeout: Duration
    private let unsolicitedReplyHandler: UnsolicitedReplyHandler?
    private let logger: Logger
    private var pending = CircularBuffer<PendingCommand>(initialCapacity: 64)
    /// At most one timer, due at the deadline of the oldest pending command when it was scheduled.
    private var timeoutTimer: Scheduled<Void>?
    /// Set once the connection is unusable; later commands fail with it.
    private var failure: RedisError?

    init(
        configuration: RedisConfiguration,
        logger: Logger,
        unsolicitedReplyHandler: UnsolicitedReplyHandler?
    ) throws(RESPReplyParserError) {
        self.parser = try RESPReplyParser()
        self.endpoint = configuration.endpoint
        self.commandTimeout = configuration.commandTimeout
        self.unsolicitedReplyHandler = unsolicitedReplyHandler
        self.logger = logger
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        if let failure = self.failure {
            request.replyPromise.fail(failure)
            promise?.fail(failure)
            return
        }
        self.pending.append(
            PendingCommand(replyPromise: request.replyPromise, deadline: .now() + TimeAmount(self.commandTimeout))
        )
        self.scheduleTimeoutTimerIfNeeded(context: context)
        // FlushCoalescingHandler turns the flushes of one loop tick into one write(2).
        context.writeAndFlush(self.wrapOutboundOut(request.encoded), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        do {
            try self.parser.feed(bytes)
            while self.failure == nil, let reply = try self.parser.nextReply() {
                self.deliver(reply, context: context)
            }
        } catch {
            self.logger.error("Redis sent invalid RESP; closing the connection", metadata: ["reason": "\(error.reason)"])
            self.failAll(with: .protocolError(endpoint: self.endpoint, reason: error.reason), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(with: .connectionClosed(endpoint: self.endpoint, reason: "the connection went down"), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("Redis connection error; closing it", metadata: ["error": "\(error)"])
        self.failAll(with: .connectionClosed(endpoint: self.endpoint, reason: "\(error)"), context: context)
    }

    private func deliver(_ reply: RESPReplyParser.Reply, context: ChannelHandlerContext) {
        guard let command = self.pending.popFirst() else {
            if let unsolicitedReplyHandler = self.unsolicitedReplyHandler {
                unsolicitedReplyHandler(reply)
            } else {
                self.failAll(
                    with: .protocolError(endpoint: self.endpoint, reason: "a reply arrived while no command was waiting"),
                    context: context
                )
            }
            return
        }
        switch reply {
        case .value(let value):
            command.replyPromise.succeed(value)
        case .serverError(let message):
            command.replyPromise.fail(RedisError.serverError(message))
        }
    }

    private func scheduleTimeoutTimerIfNeeded(context: ChannelHandlerContext) {
        guard self.timeoutTimer == nil, let oldest = self.pending.first else {
            return
        }
        self.timeoutTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: oldest.deadline) {
            self.timeoutTimerFired(context: context)
        }
    }

    private func timeoutTimerFired(context: ChannelHandlerContext) {
        self.timeoutTimer = nil
        guard let oldest = self.pending.first else {
            return
        }
        guard oldest.deadline <= .now() else {
            // The command the timer was set for has been answered; wait for the current oldest one.
            self.scheduleTimeoutTimerIfNeeded(context: context)
            return
        }
        let timedOut = self.pending.removeFirst()
        self.logger.warning(
            "Redis command timed out; closing the connection",
            metadata: ["timeout": "\(self.commandTimeout.millisecondsDescription)", "in-flight": "\(self.pending.count)"]
        )
        self.failAll(
            with: .connectionClosed(endpoint: self.endpoint, reason: "an earlier command on it timed out"),
            context: context
        )
        timedOut.replyPromise.fail(RedisError.commandTimeout(endpoint: self.endpoint, timeout: self.commandTimeout))
    }

    /// Marks the connection unusable, closes it, and fails every queued command with `error`. Idempotent.
    private func failAll(with error: RedisError, context: ChannelHandlerContext) {
        guard self.failure == nil else {
            return
        }
        self.failure = error
        self.timeoutTimer?.cancel()
        self.timeoutTimer = nil
        let commands = self.pending
        self.pending.removeAll()
        context.close(promise: nil)
        for command in commands {
            command.replyPromise.fail(error)
        }
    }
}
