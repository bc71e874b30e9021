import Foundation
import GatehouseNIOSupport
import Logging
import Metrics
import NIOCore
import NIOHTTP1

/// Answers the requests of one HTTP/1.1 connection: a thin shell at the tail of the connection's pipeline
/// over ``EdgeRequestReader``, which assembles whole requests within the body limit.
///
/// Each whole request is handed to the ``EdgeGateway`` in a task that runs on the connection's own
/// event loop (``EventLoopTaskExecutor``), and its answer is written from there: the RPC clients prefer their
/// connection on the caller's loop, so a request, its limiter decision and its answer stay on one thread.
/// NIO's pipelining handler before this one holds a pipelined request back until the answer before it has
/// been written, so one request per connection is in the pipeline at a time and answers leave in order.
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
final class EdgeRequestChannelHandler: ChannelDuplexHandler, RemovableChannelHandler, BodyStreamSource {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private static let serverName = "gatehouse-edge"

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
    private var reads = ReadGate()

    init(handler: EdgeGateway, http: EdgeConfiguration.HTTP, eventLoop: any EventLoop, logger: Logger) {
        self.handler = handler
        self.http = http
        self.executor = EventLoopTaskExecutor(eventLoop: eventLoop)
        self.logger = logger
        self.reader = EdgeRequestReader(maximumBodyBytes: http.maxBodyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.peer = context.channel.remoteAddress?.ipAddress ?? "unknown"
        self.peerIsTrusted = self.http.trustedProxies.contains(self.peer)
        self.context = context
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
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.streaming?.body.resume() }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let action: EdgeRequestReader.Action
        switch self.unwrapInboundIn(data) {
        case .head(let head): action = self.reader.head(head, streamBeyond: self.streamingBound(head))
        case .body(let body): action = self.reader.body(body)
        case .end: action = self.reader.end()
        }
        switch action {
        case .none:
            return
        case .sendContinue(let head):
            context.writeAndFlush(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        case .reject(let head, let refusal, let closeAfterAnswer):
            let headers = [("X-Request-ID", RequestID.of(head.headers, using: &self.random))]
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
            self.reads.shut()  // until the upstream starts taking it
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
            self.releaseReads()  // the rest is discarded
        case .close:
            if self.answering || self.streaming != nil {
                self.closesAfterAnswer = true
            } else if let rejection = self.rejection {
                Self.close(context.channel, after: rejection)
            } else {
                context.close(promise: nil)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("http connection ended", metadata: ["client.peer": "\(self.peer)", "error": "\(error)"])
        // Nothing more is written on this connection (a body cut short was answered `400` before here).
        self.context = nil
        self.connectionEnded()
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if self.reads.admits() { context.read() }
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
        self.reads.shut()
    }

    func resumeReading(_ exchange: Int) {
        guard exchange == self.requestBodyNumber else { return }
        self.releaseReads()
    }

    /// The upstream does not want the rest of the request's body: it is read and discarded.
    func abandon(_ exchange: Int) {
        guard exchange == self.requestBodyNumber else { return }
        self.requestBody = nil
        self.reader.discardRest()
        self.releaseReads()
    }

    private func releaseReads() {
        if self.reads.open() { self.context?.read() }
    }

    private func answer(_ head: HTTPRequestHead, body: ByteBuffer, rest: BodyStream?, context: ChannelHandlerContext) {
        var request = self.request(head, body: body)
        request.bodyStream = rest
        request.departure = self.departure
        let (sent, pipeline) = (request, self.handler)
        self.answering = true
        self.executor.run({ await pipeline.handle(sent) }) { response in
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
            self.releaseReads()
        }
        if let rest = response.bodyStream {
            self.stream(response, rest: rest, answering: head, closing: bodyUnread, context: context)
            return
        }
        if bodyUnread {
            self.answerBeforeBodyEnd(self.write(response, answering: head, keepAlive: false, context: context), context: context)
            return
        }
        let written = self.write(response, answering: head, keepAlive: head.isKeepAlive, context: context)
        if !head.isKeepAlive {
            Self.close(context.channel, after: written)
        }
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
        var headers: [String: String] = [:]
        headers.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            let name = name.lowercased()
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        let (path, query) = Self.pathAndQuery(head.uri)
        let scheme = ForwardedHeaders.clientScheme(
            peerIsTrusted: self.peerIsTrusted, forwarded: headers["forwarded"], forwardedProto: headers["x-forwarded-proto"]
        )
        return EdgeRequest(
            method: head.method.rawValue, path: path, query: query, headers: headers, body: Array(buffer: body),
            clientIP: self.http.trustedProxies.clientAddress(peer: self.peer, forwardedFor: headers["x-forwarded-for"]),
            requestID: RequestID.of(head.headers, using: &self.random), scheme: scheme
        )
    }

    /// The path and the query (without `?`) of a request target: origin form (`/a?b`) or absolute form
    /// (`http://host/a?b`). Read as bytes; an origin-form target without a query is returned as it is.
    static func pathAndQuery(_ target: String) -> (path: String, query: String?) {
        let bytes = target.utf8
        var start = bytes.startIndex
        if bytes.first != UInt8(ascii: "/"), let scheme = bytes.firstRange(of: "://".utf8) {
            start = bytes[scheme.upperBound...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.endIndex
        }
        guard let mark = bytes[start...].firstIndex(of: UInt8(ascii: "?")) else {
            if start == bytes.startIndex, !bytes.isEmpty { return (target, nil) }
            return (start == bytes.endIndex ? "/" : String(Substring(bytes[start...])), nil)
        }
        let path = start == mark ? "/" : String(Substring(bytes[start..<mark]))
        return (path, String(Substring(bytes[bytes.index(after: mark)...])))
    }

    /// Writes a response; for `HEAD`, its head only (with the `Content-Length` of the body a `GET` gets).
    private func write(_ response: EdgeResponse, answering request: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) -> EventLoopFuture<Void> {
        let (head, bodyAllowed) = self.head(of: response, contentLength: response.body.count, answering: request, keepAlive: keepAlive)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if bodyAllowed, request.method != .HEAD, !response.body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        return context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
    }

    /// Writes a response whose body's rest (`rest`) is written as it arrives, described above.
    private func stream(_ response: EdgeResponse, rest: BodyStream, answering request: HTTPRequestHead, closing: Bool, context: ChannelHandlerContext) {
        let length = rest.declaredLength
        let isHead = request.method == .HEAD
        // Without a length, an HTTP/1.0 body ends with the connection; a HEAD's head alone is sent, then the
        // connection closes (chunked framing would end it with a last chunk that a HEAD answer must not have).
        let closesAfter = closing || !request.isKeepAlive || (length == nil && (request.version == .http1_0 || isHead))
        let (head, bodyAllowed) = self.head(of: response, contentLength: length, answering: request, keepAlive: !closesAfter)
        let headWritten = context.write(self.wrapOutboundOut(.head(head)))
        guard bodyAllowed, !isHead else {
            rest.cancel()
            if length == nil, isHead {
                context.flush()
                Self.close(context.channel, after: headWritten)
            } else {
                let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
                if closesAfter { Self.close(context.channel, after: written) }
            }
            return
        }
        if !response.body.isEmpty {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        context.flush()
        self.streaming = (rest, closesAfter, response.header("X-Request-ID") ?? "-")
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
            context.writeAndFlush(self.wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
            if !context.channel.isWritable { streaming.body.pause() }
        case .end:
            self.streaming = nil
            let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
            if streaming.closesAfter || self.closesAfterAnswer {
                self.closesAfterAnswer = false
                Self.close(context.channel, after: written)
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

    /// The response's head: its fields, `Content-Length` when the body's length is known and the status may
    /// have one, `Date`, `Server` and `Connection`; and whether the status may have a body.
    private func head(
        of response: EdgeResponse, contentLength: Int?, answering request: HTTPRequestHead, keepAlive: Bool
    ) -> (HTTPResponseHead, bodyAllowed: Bool) {
        // The fields as an array made into `HTTPHeaders` at once: `HTTPHeaders.add` checks each name for ASCII,
        // and every name here is one the parser accepted or the edge's own (docs/security.md §6.17).
        var fields: [(String, String)] = []
        fields.reserveCapacity(response.headers.count + 4)
        // An HTTP upstream's answer passed on keeps the origin's `Date` (RFC 9110 §6.6.1); every other answer
        // gets the edge's.
        var hasDate = false
        for (name, value) in response.headers {
            if ForwardedHeaders.isName(name, "date") { hasDate = true }
            fields.append((name, value))
        }
        // No body and no length for 1xx, 204 and 304 (RFC 9110 §8.6).
        let bodyAllowed = response.status >= 200 && response.status != 204 && response.status != 304
        if bodyAllowed, let contentLength { fields.append(("Content-Length", String(contentLength))) }
        if !hasDate { fields.append(("Date", self.date.current())) }
        fields.append(("Server", Self.serverName))
        if !keepAlive {
            fields.append(("Connection", "close"))
        } else if request.version == .http1_0 {
            fields.append(("Connection", "keep-alive"))
        }
        let head = HTTPResponseHead(version: request.version, status: HTTPResponseStatus(statusCode: response.status), headers: HTTPHeaders(fields))
        return (head, bodyAllowed)
    }
}
