import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Closes a connection whose request head is not complete within the head timeout (`http.head_timeout_ms`)
/// of the read that brought its first bytes: a thin shell over ``RequestHeadDeadline``, in two parts around
/// the HTTP decoder. This handler goes before the decoder and sees every read of raw bytes; the handler
/// ``makeDecodedParts()`` returns goes right after the decoder (before pipelining holds anything back) and
/// reports the heads and ends the decoder makes of them.
final class RequestHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Reports the decoder's heads and ends to the handler before the decoder.
    final class DecodedParts: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart

        fileprivate let owner: RequestHeadDeadlineHandler

        fileprivate init(owner: RequestHeadDeadlineHandler) {
            self.owner = owner
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head: self.owner.deadline.headDecoded()
            case .end: self.owner.deadline.endDecoded()
            case .body: break
            }
            context.fireChannelRead(data)
        }
    }

    private var deadline: RequestHeadDeadline
    private let timer = DeadlineTimer()
    private let logger: Logger

    init(limit: Duration, logger: Logger) {
        self.deadline = RequestHeadDeadline(limit: limit)
        self.logger = logger
    }

    /// The handler to add right after the HTTP decoder, reporting to this one.
    func makeDecodedParts() -> DecodedParts {
        DecodedParts(owner: self)
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
