import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Closes a connection whose request head is not complete within the head timeout (`http.head_timeout_ms`)
/// of the read that brought its first bytes: a thin shell over ``RequestHeadDeadline``. It goes before the
/// HTTP decoder and sees every read of raw bytes; ``EdgeConnectionHandler``, right after the decoder, tells
/// it of the heads and ends the decoder makes of them (``headDecoded()``, ``endDecoded()``).
final class RequestHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var deadline: RequestHeadDeadline
    private let timer = DeadlineTimer()
    private let logger: Logger

    init(limit: Duration, logger: Logger) {
        self.deadline = RequestHeadDeadline(limit: limit)
        self.logger = logger
    }

    /// The decoder read a whole head.
    func headDecoded() {
        self.deadline.headDecoded()
    }

    /// The decoder read a request's end.
    func endDecoded() {
        self.deadline.endDecoded()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.perform(self.deadline.bytesRead(at: .now), context: context)
        context.fireChannelRead(data)
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
            EdgeMetrics.headTimeouts.increment()
            self.logger.info("request head not received within the head timeout; connection closed", metadata: [
                "client.peer": "\(context.channel.remoteAddress?.description ?? "-")",
                "http.head_timeout": "\(self.deadline.limit)",
            ])
        }
    }
}
