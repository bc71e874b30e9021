import NIOCore
import NIOHTTP1

/// The thin NIO shell over ``UpstreamExchange`` at the end of an upstream connection's pipeline: feeds it
/// the response parts and the connection's end, runs its two timers, and completes the request's promise.
/// A connection whose exchange fails, or whose answer does not keep it alive, is closed.
final class UpstreamResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var context: ChannelHandlerContext?
    private var exchange: UpstreamExchange?
    private var promise: EventLoopPromise<UpstreamExchange.Outcome>?
    private var firstByteTimer: Scheduled<Void>?
    private var totalTimer: Scheduled<Void>?

    /// Whether a request is in flight.
    var isBusy: Bool { self.promise != nil }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Starts an exchange; called on the event loop before the request is written.
    func begin(_ exchange: UpstreamExchange, promise: EventLoopPromise<UpstreamExchange.Outcome>, firstByteTimeout: Duration, deadline: NIODeadline) {
        guard let context = self.context, context.channel.isActive, self.promise == nil else {
            promise.fail(UpstreamFailure.closedBeforeAnswer)
            return
        }
        self.exchange = exchange
        self.promise = promise
        let eventLoop = context.eventLoop.assumeIsolated()
        self.firstByteTimer = eventLoop.scheduleTask(in: TimeAmount(firstByteTimeout)) {
            guard var exchange = self.exchange, !exchange.hasBegun else { return }
            let action = exchange.timedOut("no answer began within the first-byte timeout of \(firstByteTimeout)")
            self.exchange = exchange
            self.perform(action)
        }
        self.totalTimer = eventLoop.scheduleTask(deadline: deadline) {
            guard var exchange = self.exchange else { return }
            let action = exchange.timedOut("the answer did not complete within the total timeout")
            self.exchange = exchange
            self.perform(action)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var exchange = self.exchange else {
            // Bytes nobody asked for: the connection's framing is lost.
            context.close(promise: nil)
            return
        }
        let action = exchange.read(self.unwrapInboundIn(data))
        self.exchange = exchange
        self.perform(action)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.ended(error: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.ended(error: error)
        context.close(promise: nil)
    }

    private func ended(error: (any Error)?) {
        guard var exchange = self.exchange else { return }
        let action = exchange.closed(error: error)
        self.exchange = exchange
        self.perform(action)
    }

    private func perform(_ action: UpstreamExchange.Action) {
        switch action {
        case .none:
            return
        case .answer(let reusable):
            guard let answer = self.exchange?.answer else { return }
            self.finish()?.succeed(UpstreamExchange.Outcome(answer: answer, reusable: reusable))
            if !reusable { self.context?.close(promise: nil) }
        case .fail(let failure):
            self.finish()?.fail(failure)
            self.context?.close(promise: nil)
        }
    }

    /// Ends the exchange: timers cancelled, the promise handed back to be completed.
    private func finish() -> EventLoopPromise<UpstreamExchange.Outcome>? {
        self.firstByteTimer?.cancel()
        self.totalTimer?.cancel()
        self.firstByteTimer = nil
        self.totalTimer = nil
        self.exchange = nil
        defer { self.promise = nil }
        return self.promise
    }
}
