import Foundation
import GatehouseNIOSupport
import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Everything one HTTP/1.1 client connection needs after SwiftNIO's request decoder, in one handler: it
/// orders pipelined requests, bounds the connection's time and memory, answers malformed requests, and
/// writes answers as bytes (``HTTPWireFormat``). It is a thin shell over state machines that tests
/// drive without sockets: ``EdgeRequestReader`` (whole requests within the body limit), ``RequestDeadline``
/// (the request timeout) and, through the handler before the decoder, ``RequestHeadDeadline``.
///
/// One handler instead of a chain of them (SwiftNIO's response encoder and pipelining handler, a
/// back-pressure, an idle and a deadline handler) because each request and answer passed every link of the
/// chain several times, and because SwiftNIO's pipelining handler held the next read back while an answer
/// was computed, which took the socket out of epoll and put it back for every request. Here reads go on
/// while an answer is computed; what a client pipelines meanwhile waits in a queue, and only then are reads
/// held, so memory stays bounded by one read per connection (docs/performance.md).
///
/// - **Order.** A request that needs no wait (``EdgeGateway/answerAtOnce(_:)``: a fresh cached read under
///   leased units, a remembered `429`) is answered within the read that brought it, with no task, and its
///   answer written from the loop's queue of work, after the other reads of that loop pass. Any other whole
///   request is handed to the ``EdgeGateway`` in a task that runs on the connection's own event loop
///   (``EventLoopTaskExecutor``), and its answer is written from there: the RPC clients prefer their
///   connection on the caller's loop, so a request, its limiter decision and its answer stay on one thread.
///   Requests read while another is answered wait their turn, so answers leave in order.
/// - **Bounds.** A request not read and answered within `http.request_timeout_ms` of its head closes the
///   connection (``RequestDeadline``), as does `http.idle_timeout_ms` without a read between requests; while
///   the client reads answers more slowly than they are written, the connection is not read.
/// - **Malformed requests.** A request that is not valid HTTP/1.1 is a `400` problem, and a head over
///   `http.max_head_bytes` or ``EdgeHTTPServer/maximumHeaderFields`` fields a `431`; the connection closes
///   after it. When an earlier request is still being answered, the problem follows that answer.
/// - **Shutdown.** On SwiftNIO's quiesce event an idle connection closes at once; a busy one closes after the
///   answer in progress, which says `Connection: close`.
///
/// An HTTP upstream's answer longer than its route's bound (``EdgeResponse/bodyStream``) is written as it
/// arrives: with the upstream's `Content-Length` when it declared one, else chunked (an HTTP/1.0 client's
/// connection is closed at its end instead); the upstream connection is read only while this connection is
/// writable; a client that goes away gives the rest up (its upstream connection is closed), as it ends an
/// uncached upstream exchange whose answer has not begun (``ClientDeparture``); a body that breaks
/// off closes this connection, since its head is already sent, and is logged and counted
/// (`gatehouse_edge_upstream_streams_broken_total`). A `HEAD` gets the head alone.
///
/// A request body longer than its HTTP upstream route's bound (a write; ``EdgeGateway/requestBodyStreamingBound(method:path:)``)
/// goes to the gateway once more than the bound has arrived, with the rest as a ``BodyStream`` the upstream
/// writes as it arrives: this connection is read only while the upstream's is writable. A body that goes
/// over `http.max_body_bytes` meanwhile aborts the upstream request and is answered `413`; a request
/// answered before its body's end (refused by the gateway, or answered early by the upstream) has the rest
/// of its body discarded, and its connection closes after the answer.
final class EdgeConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler, BodyStreamSource {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let serverName: StaticString = "gatehouse-edge"

    private let handler: EdgeGateway
    private let http: EdgeConfiguration.HTTP
    private let logger: Logger
    private var reader: EdgeRequestReader
    private var date = HTTPDateHeader()
    /// Made-up request IDs' randomness.
    private var random = BufferedSystemRandomNumberGenerator()
    /// The `413` answer written for a body still arriving; the connection closes once it is sent.
    private var rejection: EventLoopFuture<Void>?
    private var peer = "unknown"
    private var peerIsTrusted = false
    private let executor: EventLoopTaskExecutor
    private var context: ChannelHandlerContext?
    /// The upstream body being written, whether the connection closes at its end, and its request's ID.
    private var streaming: (body: BodyStream, closesAfter: Bool, requestID: String)?
    /// Whether the body being streamed is framed in chunks.
    private var streamIsChunked = false
    /// The request body being forwarded as it arrives; held by the upstream it goes to.
    private weak var requestBody: BodyStream?
    /// Counts the streamed request bodies: a stream names the one it belongs to.
    private var requestBodyNumber = 0
    /// Whether the request being answered had its streamed body go over the limit.
    private var requestBodyTooLarge = false
    /// Whether the gateway is answering a request.
    private var answering = false
    /// Tells the requests of this connection when the client leaves (an uncached upstream exchange ends then).
    private let departure = ClientDeparture()
    /// Whether the connection closes once the answer in progress is written.
    private var closesAfterAnswer = false
    /// Whether an answer with `Connection: close` has been written: nothing more is answered.
    private var closing = false
    /// Whether the server is shutting down: the answer in progress is the last.
    private var quiescing = false
    /// Request parts read while an earlier request is answered, in order.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// A decoding error read behind queued parts or while an answer is computed: answered after it.
    private var pendingParseError: HTTPParserError?
    /// Whether the upstream a request body streams to cannot take more now.
    private var requestBodyPaused = false
    /// Whether a read was asked for while reads were held.
    private var readHeld = false
    /// The request timeout's state and its one timer.
    private var deadline: RequestDeadline
    private let deadlineTimer = DeadlineTimer()
    /// The head timeout's handler before the decoder, told of each head and end decoded.
    private let headDeadline: RequestHeadDeadlineHandler
    /// When the connection last read; the idle timeout counts from it.
    private var lastRead = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(handler: EdgeGateway, http: EdgeConfiguration.HTTP, headDeadline: RequestHeadDeadlineHandler, eventLoop: any EventLoop, logger: Logger) {
        self.handler = handler
        self.http = http
        self.headDeadline = headDeadline
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.logger = logger
        self.reader = EdgeRequestReader(maximumBodyBytes: http.maxBodyBytes)
        self.deadline = RequestDeadline(limit: http.requestTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        self.peerIsTrusted = self.http.trustedProxies.contains(self.peer)
        self.context = context
        self.scheduleIdleCheck(in: TimeAmount(self.http.idleTimeout), context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.connectionEnded()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connectionEnded()
        context.fireChannelInactive()
    }

    /// The client went away: the answer it was being sent is given up, a request body it was sending breaks
    /// off (its upstream request is aborted), and so does an upstream exchange only it waits for.
    private func connectionEnded() {
        self.departure.left()
        self.streaming?.body.cancel()
        self.streaming = nil
        self.requestBody?.emit(.failed("the client closed its connection"))
        self.requestBody = nil
        self.queued.removeAll()
        self.deadlineTimer.cancel()
        self.idleTimer?.cancel()
        self.idleTimer = nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.streaming?.body.resume()
            self.resumeReads()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.lastRead = .now()
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Shutting down: an idle connection closes now, a busy one after the answer in progress.
        self.quiescing = true
        self.queued.removeAll()
        if !self.isBusy, self.reader.isBetweenRequests, self.rejection == nil {
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        switch part {
        case .head: self.headDeadline.headDecoded()
        case .end: self.headDeadline.endDecoded()
        case .body: break
        }
        // After an answer with `Connection: close`, only the rest of its request's body is read, not another request.
        guard !(self.closing && self.reader.isBetweenRequests) else { return }
        if self.holdsParts {
            if !self.quiescing { self.queued.append(part) }
            return
        }
        self.process(part, context: context)
    }

    /// Whether an answer is being computed or written.
    private var isBusy: Bool {
        self.answering || self.streaming != nil
    }

    /// Whether parts read now wait: they belong to a request after the one being answered.
    private var holdsParts: Bool {
        !self.queued.isEmpty || (self.isBusy && self.reader.isBetweenRequests)
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        let action: EdgeRequestReader.Action
        switch part {
        case .head(let head):
            self.deadlineTimer.perform(self.deadline.headRead(at: .now), context: context, timerFired: { self.deadline.timerFired(at: .now) }) {
                EdgeMetrics.requestTimeouts.increment()
                self.logger.info("request not received and answered within the request timeout; connection closed", metadata: [
                    "client.peer": "\(self.peer)", "http.request_timeout": "\(self.deadline.limit)",
                ])
            }
            action = self.reader.head(head, streamBeyond: self.streamingBound(head))
        case .body(let body): action = self.reader.body(body)
        case .end: action = self.reader.end()
        }
        switch action {
        case .none:
            return
        case .sendContinue:
            var buffer = context.channel.allocator.buffer(capacity: 32)
            buffer.writeStaticString(HTTPWireFormat.continueHead)
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        case .reject(let head, let refusal, let closeAfterAnswer):
            let headers = [("X-Request-ID", RequestID.of(head.headers.first(name: "x-request-id"), using: &self.random))]
            let problem =
                switch refusal {
                case .tooLarge: EdgeResponse.problem(413, "Content Too Large", "the body is larger than \(self.http.maxBodyBytes) bytes", headers: headers)
                case .badHead(let detail): EdgeResponse.problem(400, "Bad Request", detail, headers: headers)
                case .unsupportedTransferCoding(let coding):
                    EdgeResponse.problem(501, "Not Implemented", "the transfer coding '\(coding)' is not supported; only chunked is", headers: headers)
                }
            let written = self.write(problem, answering: head, keepAlive: false, context: context)
            if closeAfterAnswer {
                Self.close(context.channel, after: written)
            } else {
                self.rejection = written
            }
        case .answer(let head, let body):
            self.answer(head, body: body, rest: nil, context: context)
        case .stream(let head, let body):
            self.requestBodyNumber += 1
            let declared = head.headers["content-length"].first.flatMap { Int($0) }
            let rest = BodyStream(declaredLength: declared, source: self, exchange: self.requestBodyNumber, eventLoop: context.eventLoop)
            self.requestBody = rest
            self.requestBodyPaused = true  // until the upstream starts taking it
            self.answer(head, body: body, rest: rest, context: context)
        case .forward(let part):
            self.requestBody?.emit(.chunk(part))
        case .endStream:
            self.requestBody?.emit(.end)
            self.requestBody = nil
        case .abortStream:
            self.requestBodyTooLarge = true
            self.requestBody?.emit(.failed("the request body is larger than \(self.http.maxBodyBytes) bytes"))
            self.requestBody = nil
            self.releaseRequestBodyReads()  // the rest is discarded
        case .close:
            if self.isBusy {
                self.closesAfterAnswer = true
            } else if let rejection = self.rejection {
                Self.close(context.channel, after: rejection)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError, self.holdsParts {
            // Behind a request still being answered: the problem follows its answer.
            self.pendingParseError = error
            return
        }
        self.logger.debug("http connection ended", metadata: ["client.peer": "\(self.peer)", "error": "\(error)"])
        if let error = error as? HTTPParserError, self.streaming == nil, !self.closing {
            self.answerMalformed(error, context: context)
        } else {
            context.close(promise: nil)
        }
        // Nothing more is written on this connection.
        self.context = nil
        self.connectionEnded()
    }

    /// Answers a request the decoder could not read, `400` or `431`, and closes the connection after it.
    private func answerMalformed(_ error: HTTPParserError, context: ChannelHandlerContext) {
        let problem =
            error == .headerOverflow
            ? EdgeResponse.problem(
                431, "Request Header Fields Too Large",
                "the request line and header fields are larger than \(self.http.maxHeadBytes) bytes or more than \(EdgeHTTPServer.maximumHeaderFields) fields"
            )
            : EdgeResponse.problem(400, "Bad Request", "the request is not valid HTTP/1.1: \(error)")
        var buffer = context.channel.allocator.buffer(capacity: 256 + problem.body.count)
        _ = self.writeHead(of: problem, contentLength: problem.body.count, version: .http1_1, keepAlive: false, into: &buffer)
        buffer.writeBytes(problem.body)
        Self.close(context.channel, after: context.writeAndFlush(self.wrapOutboundOut(buffer)))
    }

    func read(context: ChannelHandlerContext) {
        if self.readsAllowed(context) {
            context.read()
        } else {
            self.readHeld = true
        }
    }

    /// Whether the connection may be read now: not while a streamed request body's upstream cannot take more,
    /// while pipelined parts wait, while the client is not reading what was written, or once the decoder
    /// failed (nothing after that is a request; the problem follows the answer in progress).
    private func readsAllowed(_ context: ChannelHandlerContext) -> Bool {
        !self.requestBodyPaused && self.queued.isEmpty && self.pendingParseError == nil && context.channel.isWritable
    }

    /// Passes on a read held back, once reads are allowed again.
    private func resumeReads() {
        guard self.readHeld, let context = self.context, self.readsAllowed(context) else { return }
        self.readHeld = false
        context.read()
    }

    /// The bound beyond which `head`'s body is streamed, when it has a body and its route forwards it to an
    /// HTTP upstream.
    private func streamingBound(_ head: HTTPRequestHead) -> Int? {
        let hasBody = head.headers.contains(name: "transfer-encoding") || head.headers["content-length"].first.flatMap { Int($0) }.map { $0 > 0 } == true
        guard hasBody else { return nil }
        return self.handler.requestBodyStreamingBound(method: head.method.rawValue, path: Self.pathAndQuery(head.uri).path)
    }

    func pauseReading(_ exchange: Int) {
        guard exchange == self.requestBodyNumber, self.requestBody != nil else { return }
        self.requestBodyPaused = true
    }

    func resumeReading(_ exchange: Int) {
        guard exchange == self.requestBodyNumber else { return }
        self.releaseRequestBodyReads()
    }

    /// The upstream does not want the rest of the request's body: it is read and discarded.
    func abandon(_ exchange: Int) {
        guard exchange == self.requestBodyNumber else { return }
        self.requestBody = nil
        self.reader.discardRest()
        self.releaseRequestBodyReads()
    }

    private func releaseRequestBodyReads() {
        self.requestBodyPaused = false
        self.resumeReads()
    }

    /// Closes the connection when the client has been idle, between requests, for `http.idle_timeout_ms`.
    private func scheduleIdleCheck(in delay: TimeAmount, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.idleTimer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            handler.idleTimer = nil
            guard handler.context != nil else { return }
            let timeout = TimeAmount(handler.http.idleTimeout)
            let idle = NIODeadline.now() - handler.lastRead
            if idle < timeout {
                handler.scheduleIdleCheck(in: timeout - idle, context: context)
            } else if handler.deadline.open.isEmpty, !handler.isBusy {
                context.close(promise: nil)
            } else {
                // A request in progress is the request timeout's to bound.
                handler.scheduleIdleCheck(in: timeout, context: context)
            }
        }
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, rest: BodyStream?, context: ChannelHandlerContext) {
        var request = self.request(head, body: body)
        request.bodyStream = rest
        request.departure = self.departure
        let (sent, pipeline) = (request, self.handler)
        self.answering = true
        // A request that needs no wait (a fresh cached read under leased units, a remembered 429) is answered
        // here, with no task; any other goes on in a task on this connection's loop. Either answer is written
        // from the loop's queue of work, after the reads of this loop pass: writing it here, inside the read,
        // cost more CPU per request (the loop slept and woke more often; docs/performance.md).
        let matched: RouteTable.Match?
        switch rest == nil ? pipeline.answerAtOnce(sent) : .later(matched: nil) {
        case .answered(let response):
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, context) = bound.value
                handler.respond(response, answering: head, context: context)
            }
            return
        case .later(let match):
            matched = match
        }
        self.executor.run({ await pipeline.handle(sent, matched: matched) }) { response in
            self.respond(response, answering: head, context: context)
        }
    }

    private func respond(_ response: EdgeResponse, answering head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.answering = false
        guard self.context != nil else { return }  // the connection closed while the request was answered
        if self.requestBodyTooLarge {
            self.requestBodyTooLarge = false
            let problem = EdgeResponse.problem(
                413, "Content Too Large", "the body is larger than \(self.http.maxBodyBytes) bytes", headers: [("X-Request-ID", response.header("X-Request-ID") ?? "-")]
            )
            self.answerBeforeBodyEnd(self.write(problem, answering: head, keepAlive: false, context: context), context: context)
            return
        }
        // The body is still arriving, or it ended after the upstream gave it up (the connection is to close).
        let bodyUnread = self.reader.hasUnreadBody || self.closesAfterAnswer
        if bodyUnread {
            // Answered before the body's end: the rest is discarded, and the connection closes after the answer.
            self.reader.discardRest()
            self.requestBody = nil
            self.releaseRequestBodyReads()
        }
        if let rest = response.bodyStream {
            self.stream(response, rest: rest, answering: head, closing: bodyUnread || self.quiescing, context: context)
            return
        }
        if bodyUnread {
            self.answerBeforeBodyEnd(self.write(response, answering: head, keepAlive: false, context: context), context: context)
            return
        }
        let keepAlive = head.isKeepAlive && !self.quiescing
        let written = self.write(response, answering: head, keepAlive: keepAlive, context: context)
        if keepAlive {
            self.answerFinished(context: context)
        } else {
            Self.close(context.channel, after: written)
        }
    }

    /// The answer in progress is written and the connection stays open: requests read meanwhile go on, then a
    /// decoding error read behind them is answered.
    private func answerFinished(context: ChannelHandlerContext) {
        while let part = self.queued.first, !(self.isBusy && self.reader.isBetweenRequests) {
            self.queued.removeFirst()
            self.process(part, context: context)
            guard self.context != nil else { return }
        }
        if let error = self.pendingParseError, self.queued.isEmpty, !self.isBusy {
            self.pendingParseError = nil
            if self.closing {
                context.close(promise: nil)
            } else {
                self.answerMalformed(error, context: context)
            }
            self.context = nil
            self.connectionEnded()
            return
        }
        self.resumeReads()
    }

    /// An answer written while the request's body was still arriving (or being discarded): the connection
    /// closes once it is written and the body has ended.
    private func answerBeforeBodyEnd(_ written: EventLoopFuture<Void>, context: ChannelHandlerContext) {
        if self.closesAfterAnswer {
            self.closesAfterAnswer = false
            Self.close(context.channel, after: written)
        } else {
            self.rejection = written
        }
    }

    /// Closes the connection once `answer` is written (or failed to be).
    private static func close(_ channel: any Channel, after answer: EventLoopFuture<Void>) {
        answer.whenComplete { _ in channel.close(promise: nil) }
    }

    private func request(_ head: HTTPRequestHead, body: ByteBuffer) -> EdgeRequest {
        var headers = RequestFields()
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            headers.add(name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) ? name.lowercased() : name, value)
        }
        let (path, query) = Self.pathAndQuery(head.uri)
        // What a proxy says of the client is read only when the peer is a trusted proxy.
        var (scheme, clientIP) = ("http", self.peer)
        if self.peerIsTrusted {
            scheme = ForwardedHeaders.clientScheme(peerIsTrusted: true, forwarded: headers["forwarded"], forwardedProto: headers["x-forwarded-proto"])
            clientIP = self.http.trustedProxies.clientAddress(peer: self.peer, forwardedFor: headers["x-forwarded-for"])
        }
        return EdgeRequest(
            method: head.method.rawValue, path: path, query: query, headers: headers, body: Array(buffer: body), clientIP: clientIP,
            requestID: RequestID.of(headers["x-request-id"], using: &self.random), scheme: scheme
        )
    }

    /// The path and the query (without `?`) of a request target: origin form (`/a?b`) or absolute form
    /// (`http://host/a?b`). Read as bytes; an origin-form target without a query is returned as it is.
    static func pathAndQuery(_ target: String) -> (path: String, query: String?) {
        var text = target
        let (start, mark, count) = text.withUTF8 { bytes -> (Int, Int?, Int) in
            var start = 0
            if bytes.first != UInt8(ascii: "/") {
                var index = 0
                while index + 2 < bytes.count {
                    if bytes[index] == UInt8(ascii: ":"), bytes[index + 1] == UInt8(ascii: "/"), bytes[index + 2] == UInt8(ascii: "/") {
                        start = index + 3
                        while start < bytes.count, bytes[start] != UInt8(ascii: "/"), bytes[start] != UInt8(ascii: "?") { start += 1 }
                        break
                    }
                    index += 1
                }
            }
            var mark = start
            while mark < bytes.count, bytes[mark] != UInt8(ascii: "?") { mark += 1 }
            return (start, mark < bytes.count ? mark : nil, bytes.count)
        }
        // Every offset sits next to an ASCII byte (or at an end), so it is a character boundary.
        let utf8 = target.utf8
        func slice(_ from: Int, _ to: Int) -> String {
            String(target[utf8.index(utf8.startIndex, offsetBy: from)..<utf8.index(utf8.startIndex, offsetBy: to)])
        }
        guard let mark else {
            if start == 0, count > 0 { return (target, nil) }
            return (start == count ? "/" : slice(start, count), nil)
        }
        return (start == mark ? "/" : slice(start, mark), slice(mark + 1, count))
    }

    /// The request in progress is answered: its deadline no longer counts, and after an answer with
    /// `Connection: close` nothing more is answered.
    private func responseWritten(keepAlive: Bool) {
        self.deadline.responseFinished()
        if !keepAlive { self.closing = true }
    }

    /// Writes a response, head and body in one buffer; for `HEAD`, its head only (with the `Content-Length`
    /// of the body a `GET` gets).
    private func write(_ response: EdgeResponse, answering request: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        var buffer = context.channel.allocator.buffer(capacity: 384 + response.body.count)
        let bodyAllowed = self.writeHead(of: response, contentLength: response.body.count, version: request.version, keepAlive: keepAlive, into: &buffer)
        if bodyAllowed, request.method != .HEAD {
            buffer.writeBytes(response.body)
        }
        self.responseWritten(keepAlive: keepAlive)
        return context.writeAndFlush(self.wrapOutboundOut(buffer))
    }

    /// Writes a response whose body's rest (`rest`) is written as it arrives, described above.
    private func stream(_ response: EdgeResponse, rest: BodyStream, answering request: HTTPRequestHead, closing: Bool, context: ChannelHandlerContext) {
        let length = rest.declaredLength
        let isHead = request.method == .HEAD
        // Without a length, an HTTP/1.0 body ends with the connection; a HEAD's head alone is sent, then the
        // connection closes (chunked framing would end it with a last chunk that a HEAD answer must not have).
        let closesAfter = closing || !request.isKeepAlive || (length == nil && (request.version == .http1_0 || isHead))
        let chunked = length == nil && request.version != .http1_0
        var buffer = context.channel.allocator.buffer(capacity: 384 + response.body.count)
        let bodyAllowed = self.writeHead(
            of: response, contentLength: length, version: request.version, keepAlive: !closesAfter, chunked: chunked, into: &buffer
        )
        guard bodyAllowed, !isHead else {
            rest.cancel()
            self.responseWritten(keepAlive: !closesAfter)
            let written = context.writeAndFlush(self.wrapOutboundOut(buffer))
            if closesAfter {
                Self.close(context.channel, after: written)
            } else {
                self.answerFinished(context: context)
            }
            return
        }
        context.write(self.wrapOutboundOut(buffer), promise: nil)
        if !response.body.isEmpty {
            HTTPWireFormat.writeBodyPart(context.channel.allocator.buffer(bytes: response.body), chunked: chunked, context: context)
        }
        context.flush()
        self.streaming = (rest, closesAfter, response.header("X-Request-ID") ?? "-")
        self.streamIsChunked = chunked
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        rest.start { event in
            if loop.inEventLoop {
                handler.value.relay(event)
            } else {
                loop.execute { handler.value.relay(event) }
            }
        }
        if !context.channel.isWritable { rest.pause() }
    }

    /// Writes what the streamed body delivered; stops reading the upstream while the client is not reading.
    private func relay(_ event: BodyStream.Event) {
        guard let streaming = self.streaming, let context = self.context else { return }
        switch event {
        case .chunk(let chunk):
            HTTPWireFormat.writeBodyPart(chunk, chunked: self.streamIsChunked, context: context)
            context.flush()
            if !context.channel.isWritable { streaming.body.pause() }
        case .end:
            self.streaming = nil
            var last = context.channel.allocator.buffer(capacity: 5)
            if self.streamIsChunked { last.writeStaticString(HTTPWireFormat.lastChunk) }
            let closes = streaming.closesAfter || self.closesAfterAnswer
            self.responseWritten(keepAlive: !closes)
            let written = context.writeAndFlush(self.wrapOutboundOut(last))
            if closes {
                self.closesAfterAnswer = false
                Self.close(context.channel, after: written)
            } else {
                self.answerFinished(context: context)
            }
        case .failed(let failure):
            self.streaming = nil
            EdgeMetrics.upstreamStreamsBroken.increment()
            self.logger.warning(
                "upstream answer broke off after its head was sent; client connection closed",
                metadata: ["upstream.failure": "\(failure)", "request.id": "\(streaming.requestID)", "client.peer": "\(self.peer)"]
            )
            context.close(promise: nil)
        }
    }

    /// Writes the response's head: its fields, `Content-Length` when the body's length is known and the status
    /// may have one (else `Transfer-Encoding: chunked` when `chunked`), `Date`, `Server` and `Connection`.
    /// Returns whether the status may have a body.
    private func writeHead(
        of response: EdgeResponse, contentLength: Int?, version: HTTPVersion, keepAlive: Bool, chunked: Bool = false, into buffer: inout ByteBuffer
    ) -> Bool {
        // An HTTP upstream's answer passed on keeps the origin's `Date` (RFC 9110 §6.6.1); every other answer
        // gets the edge's.
        let hasDate = response.headers.contains { ForwardedHeaders.isName($0.name, "date") }
        // No body and no length for 1xx, 204 and 304 (RFC 9110 §8.6).
        let bodyAllowed = response.status >= 200 && response.status != 204 && response.status != 304
        let connection: StaticString? = !keepAlive ? "close" : version == .http1_0 ? "keep-alive" : nil
        HTTPWireFormat.writeResponseHead(
            version: version, status: response.status, fields: response.headers, contentLength: bodyAllowed ? contentLength : nil,
            chunked: bodyAllowed && chunked, date: hasDate ? nil : self.date.current(), server: Self.serverName, connection: connection,
            into: &buffer
        )
        return bodyAllowed
    }
}
