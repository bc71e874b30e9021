import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Closes a connection whose request is not read and answered within the request timeout
/// (`http.request_timeout_ms`), and one that is idle, with no request in progress, when the
/// `IdleStateHandler` before it reports `http.idle_timeout_ms` without a read: a thin shell over
/// ``RequestDeadline``, placed after the HTTP decoding and pipelining so that it sees request heads and
/// response ends in order.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var deadline: RequestDeadline
    private let timer = DeadlineTimer()
    private let logger: Logger

    init(limit: Duration, logger: Logger) {
        self.deadline = RequestDeadline(limit: limit)
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = self.unwrapInboundIn(data) {
            self.perform(self.deadline.headRead(at: .now), context: context)
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case IdleStateHandler.IdleStateEvent.read = event {
            // A request in progress is the request timeout's to bound; between requests, idle means closed.
            if self.deadline.open.isEmpty { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data) {
            self.deadline.responseFinished()
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer.cancel()
        context.fireChannelInactive()
    }

    private func perform(_ action: DeadlineAction, context: ChannelHandlerContext) {
        self.timer.perform(action, context: context, timerFired: { self.deadline.timerFired(at: .now) }) {
            EdgeMetrics.requestTimeouts.increment()
            self.logger.info("request not received and answered within the request timeout; connection closed", metadata: [
                "client.peer": "\(context.channel.remoteAddress?.description ?? "-")",
                "http.request_timeout": "\(self.deadline.limit)",
            ])
        }
    }
}
