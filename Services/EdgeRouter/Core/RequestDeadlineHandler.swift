import Logging
import Metrics
import NIOCore
import NIOHTTPTypes

/// Closes a connection whose request is not read and answered within the request timeout
/// (`http.request_timeout_ms`): a thin shell over ``RequestDeadline``, placed after Hummingbird's HTTP
/// decoding so that it sees request heads and response ends.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var deadline: RequestDeadline
    private var timer: Scheduled<Void>?
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

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = self.unwrapOutboundIn(data) {
            self.perform(self.deadline.responseFinished(), context: context)
        }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }

    private func perform(_ action: RequestDeadline.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            return
        case .cancel:
            self.timer?.cancel()
            self.timer = nil
        case .schedule(let instant):
            self.timer?.cancel()
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            self.timer = context.eventLoop.scheduleTask(in: TimeAmount(instant - .now)) {
                let (handler, context) = loopBound.value
                guard !handler.deadline.open.isEmpty else { return }
                EdgeMetrics.requestTimeouts.increment()
                handler.logger.info("request not received and answered within the request timeout; connection closed", metadata: [
                    "client.peer": "\(context.channel.remoteAddress?.description ?? "-")",
                    "http.request_timeout": "\(handler.deadline.limit)",
                ])
                context.close(promise: nil)
            }
        }
    }
}
