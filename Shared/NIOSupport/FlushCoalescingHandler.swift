import NIOCore

/// Turns the many flushes of one event-loop tick into one, so writes issued together (pipelined
/// commands, concurrent RPC calls or answers) leave in one `write(2)` instead of one each.
///
/// Place it next to the head of the pipeline; handlers after it flush as usual. A flush is deferred to
/// the end of the current loop tick; a close flushes first, so nothing written before it is lost.
public final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    /// Writes pass through unchanged.
    public typealias OutboundIn = NIOAny

    private var flushScheduled = false

    /// Creates the handler; add one per channel.
    public init() {}

    /// Defers the flush to the end of this event-loop tick, once for all flushes of the tick.
    public func flush(context: ChannelHandlerContext) {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = loopBound.value
            guard handler.flushScheduled else { return }
            handler.flushScheduled = false
            context.flush()
        }
    }

    /// Flushes what is pending, then closes.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if self.flushScheduled {
            self.flushScheduled = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}

@available(*, unavailable)
extension FlushCoalescingHandler: Sendable {}
