import NIOCore
import NIOHTTP1

/// The thin NIO shell over ``UpstreamExchange`` at the end of an upstream connection's pipeline: feeds it
/// the response parts and the connection's end, runs its two timers, completes the request's promise, and
/// passes a streamed body on (``BodyStream``), holding the connection's reads back while the stream
/// is paused (as swift-nio's `GlueHandler` does). When the exchange ends it tells the pool whether the
/// connection may carry another request; a connection whose exchange fails, whose streamed body was given
/// up, or whose answer does not keep it alive, is closed.
///
/// Requests are written as bytes (``HTTPWireFormat``), and ``UpstreamResponseDecoder`` is told of each head.
/// One timer per connection serves both timeouts of its exchanges: it is set for the earliest deadline when
/// none is set earlier, and a timer that fires before what is due is set again for it, so a busy keep-alive
/// connection costs one timer per timeout, not two per request.
///
/// A request body longer than its bound is written as the client sends it (``forwardRequestBody(_:)``):
/// the client's connection is read only while this one is writable; an answer that ends before the whole
/// request was sent, or a request body that breaks off, closes the connection.
final class UpstreamResponseHandler: ChannelDuplexHandler, RemovableChannelHandler, BodyStreamSource {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var exchange: UpstreamExchange?
    private var promise: EventLoopPromise<UpstreamAnswer>?
    private var finished: ((_ reusable: Bool) -> Void)?
    /// When the answer's head must have come, from the request's end; `nil` once it came.
    private var firstByteDeadline: NIODeadline?
    /// When the whole exchange must have ended.
    private var totalDeadline: NIODeadline?
    /// The connection's one timer, and when it fires.
    private var timer: (scheduled: Scheduled<Void>, firesAt: NIODeadline)?
    /// Counts the exchanges on this connection: a stream names the one it belongs to.
    private var exchangeNumber = 0
    /// The body being streamed; held by the one it is for (let go of, it gives the body up).
    private weak var stream: BodyStream?
    private var reads = ReadGate()
    /// The request body being written, while it is.
    private var requestBody: BodyStream?
    /// Whether the request body being written is framed in chunks.
    private var requestBodyIsChunked = false
    private var firstByteTimeout = Duration.zero
    private let decoder: UpstreamResponseDecoder

    /// - Parameter decoder: The decoder before this handler, told of each request head written.
    init(decoder: UpstreamResponseDecoder) {
        self.decoder = decoder
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.timer?.scheduled.cancel()
        self.timer = nil
    }

    /// Starts an exchange; called on the event loop before the request is written.
    /// - Parameters:
    ///   - exchange: The exchange's state machine.
    ///   - promise: Completed with the answer (whole, or its start with the rest to stream) or the failure.
    ///   - firstByteTimeout: How long the answer's head may take.
    ///   - deadline: When the whole exchange, a streamed body included, must have ended.
    ///   - finished: Told once, when the exchange ends, whether the connection may carry another request.
    /// - Returns: The exchange's number, for ``clientLeft(_:)``; `nil` when the connection cannot carry it (closed,
    ///   or busy), and `promise` has failed.
    func begin(
        _ exchange: UpstreamExchange, promise: EventLoopPromise<UpstreamAnswer>, firstByteTimeout: Duration, deadline: NIODeadline,
        finished: @escaping (_ reusable: Bool) -> Void
    ) -> Int? {
        guard let context = self.context, context.channel.isActive, self.exchange == nil else {
            promise.fail(UpstreamFailure.closedBeforeAnswer)
            finished(false)
            return nil
        }
        self.exchange = exchange
        self.promise = promise
        self.finished = finished
        self.exchangeNumber += 1
        self.firstByteTimeout = firstByteTimeout
        self.totalDeadline = deadline
        self.setTimer(for: deadline)
        return self.exchangeNumber
    }

    /// Writes the request of the exchange just begun: its head and body's start in one buffer, then either its
    /// end, after which the first-byte timeout starts, or the rest of its body as it arrives
    /// (``forwardRequestBody(_:)``). A body is framed as `head` says: chunked when it says
    /// `Transfer-Encoding: chunked`, else by its `Content-Length`.
    func send(_ head: HTTPRequestHead, body: ByteBuffer?, rest: BodyStream?) {
        guard let context = self.context else { return }
        self.decoder.requestSent(head)
        self.requestBodyIsChunked = head.headers.contains(name: "transfer-encoding")
        var buffer = context.channel.allocator.buffer(capacity: 512 + (body?.readableBytes ?? 0))
        HTTPWireFormat.writeRequestHead(head, into: &buffer)
        if var body, body.readableBytes > 0 {
            if self.requestBodyIsChunked {
                HTTPWireFormat.writeChunkStart(length: body.readableBytes, into: &buffer)
                buffer.writeBuffer(&body)
                buffer.writeStaticString("\r\n")
            } else {
                buffer.writeBuffer(&body)
            }
        }
        if let rest {
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            self.forwardRequestBody(rest)
        } else {
            if self.requestBodyIsChunked { buffer.writeStaticString(HTTPWireFormat.lastChunk) }
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
            self.requestSent()
        }
    }

    /// Writes the rest of the request's body as it arrives (the head and the body's start are written);
    /// the first-byte timeout starts once its end is written.
    func forwardRequestBody(_ body: BodyStream) {
        guard let context = self.context, self.exchange != nil else {
            body.cancel()
            return
        }
        self.firstByteDeadline = nil
        self.requestBody = body
        let (number, channel) = (self.exchangeNumber, context.channel)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        body.start { event in
            if channel.eventLoop.inEventLoop {
                handler.value.requestBodyEvent(event, exchange: number)
            } else {
                channel.eventLoop.execute { handler.value.requestBodyEvent(event, exchange: number) }
            }
        }
        if !channel.isWritable { body.pause() }
    }

    private func requestBodyEvent(_ event: BodyStream.Event, exchange number: Int) {
        guard number == self.exchangeNumber, let body = self.requestBody, let context = self.context else { return }
        switch event {
        case .chunk(let chunk):
            HTTPWireFormat.writeBodyPart(chunk, chunked: self.requestBodyIsChunked, context: context)
            context.flush()
            if !context.channel.isWritable { body.pause() }
        case .end:
            self.requestBody = nil
            if self.requestBodyIsChunked {
                var last = context.channel.allocator.buffer(capacity: 5)
                last.writeStaticString(HTTPWireFormat.lastChunk)
                context.writeAndFlush(self.wrapOutboundOut(last), promise: nil)
            }
            self.requestSent()
        case .failed(let reason):
            guard var exchange = self.exchange else { return }
            let action = exchange.requestBodyBroke(reason)
            self.exchange = exchange
            self.perform(action)
        }
    }

    /// The request is written: the answer's head must come within the first-byte timeout.
    private func requestSent() {
        guard self.exchange != nil else { return }
        let deadline = NIODeadline.now() + TimeAmount(self.firstByteTimeout)
        self.firstByteDeadline = deadline
        self.setTimer(for: deadline)
    }

    /// Makes sure the timer fires by `deadline`: set when none is, or moved when the one set fires later.
    private func setTimer(for deadline: NIODeadline) {
        if let timer = self.timer {
            guard timer.firesAt > deadline else { return }
            timer.scheduled.cancel()
        }
        guard let context = self.context else { return }
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
        self.timer = (scheduled, deadline)
    }

    /// The timer fired: a deadline due ends the exchange; otherwise the timer is set again for the earliest
    /// deadline still ahead, if any.
    private func timerFired() {
        self.timer = nil
        guard var exchange = self.exchange else { return }
        let now = NIODeadline.now()
        if let total = self.totalDeadline, total <= now {
            let action = exchange.timedOut("the answer did not complete within the total timeout")
            self.exchange = exchange
            self.perform(action)
            return
        }
        if let firstByte = self.firstByteDeadline, !exchange.hasBegun {
            if firstByte <= now {
                let action = exchange.timedOut("no answer began within the first-byte timeout of \(self.firstByteTimeout)")
                self.exchange = exchange
                self.perform(action)
                return
            }
            self.setTimer(for: min(firstByte, self.totalDeadline ?? firstByte))
        } else if let total = self.totalDeadline {
            self.setTimer(for: total)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.requestBody?.resume() }
        context.fireChannelWritabilityChanged()
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

    func read(context: ChannelHandlerContext) {
        if self.reads.admits() { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.ended(error: nil)
        self.timer?.scheduled.cancel()
        self.timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.ended(error: error)
        context.close(promise: nil)
    }

    /// Stops reading the connection while exchange `number`'s body is streamed.
    func pauseReading(_ number: Int) {
        guard number == self.exchangeNumber, self.stream != nil else { return }
        self.reads.shut()
    }

    /// Reads the connection again.
    func resumeReading(_ number: Int) {
        guard number == self.exchangeNumber else { return }
        self.releaseReads()
    }

    /// The client of exchange `number` closed its connection: the exchange fails and the connection is
    /// closed, if its answer has not begun (a begun one is the streamed body's to give up).
    func clientLeft(_ number: Int) {
        guard number == self.exchangeNumber, var exchange = self.exchange else { return }
        let action = exchange.clientLeft()
        self.exchange = exchange
        self.perform(action)
    }

    /// Exchange `number`'s streamed body was given up: the connection is closed, if it still carries it.
    func abandon(_ number: Int) {
        guard number == self.exchangeNumber, var exchange = self.exchange else { return }
        let action = exchange.abandoned()
        self.exchange = exchange
        self.perform(action)
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
            guard let answer = self.exchange?.takeAnswer() else { return }
            let promise = self.promise
            self.end(reusable: reusable)
            promise?.succeed(answer)
        case .beginStream:
            guard let context = self.context, var exchange = self.exchange else { return }
            self.firstByteDeadline = nil
            let stream = BodyStream(
                declaredLength: exchange.declaredLength, source: self, exchange: self.exchangeNumber, eventLoop: context.eventLoop
            )
            self.stream = stream
            self.reads.shut()  // until the stream starts
            var answer = exchange.takeAnswer()
            self.exchange = exchange
            answer.rest = stream
            let promise = self.promise
            self.promise = nil
            promise?.succeed(answer)
        case .forward(let chunk):
            self.stream?.emit(.chunk(chunk))
        case .endStream(let reusable):
            let stream = self.stream
            self.end(reusable: reusable)
            stream?.emit(.end)
        case .fail(let failure):
            let (promise, stream) = (self.promise, self.stream)
            self.end(reusable: false)
            promise?.fail(failure)
            stream?.emit(.failed("\(failure)"))
        }
    }

    /// Ends the exchange: its deadlines dropped (the timer stays, for the next exchange), reads released, the
    /// connection handed back to the pool or closed.
    private func end(reusable: Bool) {
        self.firstByteDeadline = nil
        self.totalDeadline = nil
        self.exchange = nil
        self.promise = nil
        self.stream = nil
        self.releaseReads()
        // An answer that came before the whole request was sent: the rest of it is not wanted, and the
        // connection is in the middle of a request.
        let requestUnfinished = self.requestBody != nil
        self.requestBody?.cancel()
        self.requestBody = nil
        let finished = self.finished
        self.finished = nil
        if !reusable || requestUnfinished { self.context?.close(promise: nil) }
        finished?(reusable && !requestUnfinished)
    }

    private func releaseReads() {
        if self.reads.open() { self.context?.read() }
    }
}
